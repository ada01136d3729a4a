/**
 * `$EPREFIX/startprefix`: enter a layer, as Gentoo Prefix's startprefix (app-portage/prefix-toolkit)
 * does. `startprefix` opens an interactive shell of the layer; `startprefix <<< "cmd"` runs `cmd` in
 * it (EESSI's checks do this). Like Gentoo's, it refuses to run inside the prefix already, prints
 * `Entering … Prefix <EPREFIX>`, starts the layer's shell with a clean environment (HOME, TERM,
 * USER, SHELL, and PROFILEREAD, SSH_AUTH_SOCK, DISPLAY when set), and prints
 * `Leaving … Prefix with exit status N` at the end: the caller says what (`word`; EESSI parses
 * `Leaving Gentoo Prefix with exit status (\d*)`, and a relocated Debian layer says `Prefix`;
 * checks/shell.ts `parseLeaving` reads both). Unlike Gentoo's, it also exits with N.
 *
 * Gentoo's starts a login shell that reads the prefix's etc/profile (EPREFIX is compiled into its
 * bash), which runs etc/profile.d/*.sh (Lmod's `module` comes from there). A relocated Debian bash
 * would read the *host's* /etc/profile, so this one passes the layer's environment explicitly
 * (`env -i … bash --noprofile --rcfile $EPREFIX/etc/compat/bashrc`) and reads
 * `$EPREFIX/etc/compat/profile` (the layer's etc/profile.d/*.sh) in that first shell: through the
 * rc file when interactive, through BASH_ENV (unset again at once, so it does not reach other
 * shells) when it runs commands. The variables are also in `$EPREFIX/etc/compat/env.sh` for scripts
 * that want them without a shell.
 *
 *   await writeStartprefix(treeDir, { prefix, flavor, env })
 */
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { FlavorName } from "../spec/schema.js";

export interface EnvVar {
  name: string;
  /** Absolute paths under the prefix are written as `$EPREFIX/…`. */
  value: string;
  /** Why the layer needs it (a comment in the generated files). */
  why?: string;
}

export interface StartprefixOptions {
  prefix: string;
  flavor: FlavorName;
  /** What startprefix calls the layer (`Entering <word> …`, its prompt); default `Prefix`. */
  word?: string;
  /** The layer's variables (besides EPREFIX, SHELL and PATH). */
  env: readonly EnvVar[];
  /** Directories put before the caller's PATH, relative to the prefix (default usr/bin, usr/sbin, bin, sbin). */
  pathDirs?: readonly string[];
  /** The layer's shell, relative to the prefix (default bin/bash). */
  shell?: string;
}

export const ENV_FILE = "etc/compat/env.sh";
export const BASHRC_FILE = "etc/compat/bashrc";
export const PROFILE_FILE = "etc/compat/profile";

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(["EPREFIX", "SHELL", "PATH", "HOME", "TERM", "USER"]);

/** A value as a bash double-quoted word, with the prefix written as ${EPREFIX}. */
function quoted(value: string, prefix: string): string {
  const esc = (s: string) => s.replace(/[\\"$`]/g, (c) => `\\${c}`);
  return `"${value.split(prefix).map(esc).join(EPREFIX_REF)}"`;
}

const EPREFIX_REF = "$" + "{EPREFIX}";
const singleQuoted = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function checkEnv(env: readonly EnvVar[]): void {
  for (const v of env) {
    if (!VAR_NAME.test(v.name)) throw new Error(`not a variable name: ${v.name}`);
    if (RESERVED.has(v.name)) throw new Error(`startprefix sets ${v.name} itself`);
    if (v.value.includes("\n")) throw new Error(`${v.name}: multi-line values are not supported`);
  }
}

/** The layer's PATH: its directories, then the caller's (`rest`, a shell expression). */
function pathValue(opts: StartprefixOptions, rest = "$" + "{PATH:-/usr/bin:/bin}"): string {
  const dirs = opts.pathDirs ?? ["usr/bin", "usr/sbin", "bin", "sbin"];
  return `${dirs.map((d) => `${EPREFIX_REF}/${d}`).join(":")}:${rest}`;
}

export function renderStartprefix(opts: StartprefixOptions): string {
  checkEnv(opts.env);
  const word = opts.word ?? "Prefix";
  const shell = opts.shell ?? "bin/bash";
  const layerEnv = opts.env.map(
    (v) =>
      `\t${quoted(`${v.name}=${v.value}`, opts.prefix)}${v.why ? ` # ${v.why.replace(/\n/g, " ")}` : ""}`,
  );
  return `#!${opts.prefix}/${shell}
# Written by compat (${opts.flavor} flavor). Enters the layer at this prefix, as Gentoo Prefix's
# startprefix does: \`startprefix\` opens the layer's shell, \`startprefix <<< "cmd"\` runs cmd in it.
# The shell starts with a clean environment plus the layer's variables (also in ${ENV_FILE}).

EPREFIX=${singleQuoted(opts.prefix)}

if [[ \${SHELL#"\${EPREFIX}"} != "\${SHELL}" ]]; then
\techo "You appear to be in prefix already (SHELL=\${SHELL})" >&2
\texit 255
fi

SHELL="\${EPREFIX}/${shell}"
if [[ ! -x \${SHELL} ]]; then
\techo "Failed to find the Prefix shell \${SHELL}" >&2
\texit 1
fi
export SHELL

echo "Entering ${word} \${EPREFIX}"
RETAIN=("HOME=\${HOME}" "TERM=\${TERM}" "USER=\${USER}" "SHELL=\${SHELL}")
[[ -n \${PROFILEREAD} ]] && RETAIN+=("PROFILEREAD=\${PROFILEREAD}")
[[ -n \${SSH_AUTH_SOCK} ]] && RETAIN+=("SSH_AUTH_SOCK=\${SSH_AUTH_SOCK}")
[[ -n \${DISPLAY} ]] && RETAIN+=("DISPLAY=\${DISPLAY}")
LAYER=(
\t"EPREFIX=\${EPREFIX}"
\t"BASH_ENV=\${EPREFIX}/${PROFILE_FILE}"
\t"PATH=${pathValue(opts)}"
${layerEnv.join("\n")}
)
"\${EPREFIX}/usr/bin/env" -i "\${RETAIN[@]}" "\${LAYER[@]}" "\${SHELL}" --noprofile --rcfile "\${EPREFIX}/${BASHRC_FILE}"
status=$?
# the shell may return non-zero without real problems; the status is reported, not judged
echo "Leaving ${word} with exit status \${status}"
exit \${status}
`;
}

/** A POSIX sh file that exports the layer's environment (`. $EPREFIX/etc/compat/env.sh`). */
export function renderEnvFile(opts: StartprefixOptions): string {
  checkEnv(opts.env);
  const lines = [
    `# Written by compat (${opts.flavor} flavor): the environment of the layer at this prefix.`,
    "# startprefix sets the same; source this file only in a shell of the layer, since the",
    "# variables also reach host programs started from it (see the README's known limits).",
    `EPREFIX=${singleQuoted(opts.prefix)}`,
    "export EPREFIX",
    `PATH=${pathValue(opts, "$PATH")}`,
    "export PATH",
  ];
  for (const v of opts.env) {
    if (v.why) lines.push(`# ${v.why}`);
    lines.push(`${v.name}=${quoted(v.value, opts.prefix)}`, `export ${v.name}`);
  }
  return `${lines.join("\n")}\n`;
}

/** What the first shell of startprefix reads: the layer's etc/profile.d/*.sh, as a login shell would. */
export function renderProfile(): string {
  return `# Written by compat: read once by the shell startprefix starts (BASH_ENV, or the rc file when
# interactive), in place of the login profile. Runs the layer's etc/profile.d/*.sh.
unset BASH_ENV
if [ -z "\${COMPAT_PROFILE_READ:-}" ]; then
\tCOMPAT_PROFILE_READ=1
\tfor compat_sh in "\${EPREFIX}"/etc/profile.d/*.sh; do
\t\t[ -r "\${compat_sh}" ] && . "\${compat_sh}"
\tdone
\tunset compat_sh
fi
`;
}

/** The rc file of the layer's interactive shell. */
export function renderBashrc(opts: StartprefixOptions): string {
  return [
    "# Written by compat: read by the layer's interactive shell (startprefix).",
    `. "\${EPREFIX}/${PROFILE_FILE}"`,
    `PS1='[${opts.word ?? "Prefix"} \${EPREFIX##*/}] \\u@\\h \\w \\$ '`,
    "",
  ].join("\n");
}

async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.compat-new`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

/** Write startprefix, etc/compat/{env.sh,bashrc,profile} into the tree. Returns startprefix's path. */
export async function writeStartprefix(treeDir: string, opts: StartprefixOptions): Promise<string> {
  await mkdir(join(treeDir, "etc/compat"), { recursive: true });
  await writeAtomically(join(treeDir, ENV_FILE), renderEnvFile(opts), 0o644);
  await writeAtomically(join(treeDir, BASHRC_FILE), renderBashrc(opts), 0o644);
  await writeAtomically(join(treeDir, PROFILE_FILE), renderProfile(), 0o644);
  const file = join(treeDir, "startprefix");
  await writeAtomically(file, renderStartprefix(opts), 0o755);
  return file;
}
