/**
 * Locales of a relocated layer (relocation.md §6.2): the spec's `locale.gen` lines are compiled with
 * the layer's own localedef, in directory form (`--no-archive`) under `$EPREFIX/usr/lib/locale`,
 * which startprefix names in LOCPATH (a locale archive cannot be relocated: its path is compiled
 * into libc). localedef runs inside the sandbox, with the layer at its real prefix path, in parallel.
 *
 *   await generateLocales({ treeDir, prefix, locales: ["en_US.UTF-8 UTF-8"], inLayer, logTo })
 *   → { generated: [{ line: "en_US.UTF-8 UTF-8", name: "en_US.utf8", ms: 1300 }] }
 *
 * Debian's `locale -a` lists the host's /usr/lib/locale (compiled into the `locale` binary, which
 * ignores LOCPATH), so `installLocaleLister` puts a small wrapper in front of it: `locale -a` lists
 * the locales of LOCPATH (the ones the layer's glibc uses); every other use runs the real binary.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { InputError, ToolError } from "../errors.js";
import type { RunResult } from "../exec/run.js";
import type { LayerRunOptions, SandboxCommand } from "../exec/sandbox.js";
import { mapLimit } from "./relocate.js";

/** Runs a command with the layer at its prefix path (the pipeline's sandbox, StageContext.inLayer). */
export type InLayer = (command: SandboxCommand, opts?: LayerRunOptions) => Promise<RunResult>;

export const LOCALE_DIR = "usr/lib/locale";
/** Where the real `locale` binary goes when the wrapper is installed. */
export const REAL_LOCALE = "usr/lib/compat/locale";

export interface LocaleSpec {
  /** The locale.gen line. */
  line: string;
  /** localedef -i: the locale source (en_US, de_DE@euro). */
  input: string;
  /** localedef -f: the charmap (UTF-8). */
  charmap: string;
  /** The directory name glibc looks for (en_US.utf8): codeset normalised as _nl_normalize_codeset does. */
  name: string;
}

/** glibc's _nl_normalize_codeset: letters lower-cased, digits kept, the rest dropped; all digits → "iso" + digits. */
export function normalizeCodeset(codeset: string): string {
  const kept = codeset.replace(/[^A-Za-z0-9]/g, "").toLowerCase();
  return /^[0-9]+$/.test(kept) ? `iso${kept}` : kept;
}

/** Parse a locale.gen line `<locale> <charmap>`, e.g. `en_US.UTF-8 UTF-8` or `de_DE@euro ISO-8859-15`. */
export function parseLocaleLine(line: string): LocaleSpec {
  const m =
    /^([A-Za-z]+(?:_[A-Za-z0-9]+)?)(?:\.([A-Za-z0-9_-]+))?(?:@([A-Za-z0-9]+))?\s+([A-Za-z0-9_.:-]+)$/.exec(
      line.trim(),
    );
  if (!m)
    throw new InputError(`locales: "${line}" is not a locale.gen line`, {
      hint: "expected <locale> <charmap>, e.g. en_US.UTF-8 UTF-8 (see /usr/share/i18n/SUPPORTED)",
    });
  const lang = m[1]!;
  const codeset = m[2];
  const modifier = m[3];
  const charmap = m[4]!;
  const mod = modifier ? `@${modifier}` : "";
  return {
    line: line.trim(),
    input: `${lang}${mod}`,
    charmap,
    name: `${lang}${codeset ? `.${normalizeCodeset(codeset)}` : ""}${mod}`,
  };
}

export interface LocaleResult extends LocaleSpec {
  ms: number;
}

export interface LocaleReport {
  generated: LocaleResult[];
  /** Where they are, absolute under the prefix (LOCPATH). */
  dir: string;
}

/** Generate the locales; a locale or charmap the layer does not have is an InputError naming the line. */
export async function generateLocales(opts: {
  treeDir: string;
  prefix: string;
  locales: readonly string[];
  inLayer: InLayer;
  logTo?: Writable;
  jobs?: number;
}): Promise<LocaleReport> {
  const { treeDir, prefix } = opts;
  const specs = opts.locales.map(parseLocaleLine);
  const i18n = join(treeDir, "usr/share/i18n");
  for (const s of specs) {
    if (!existsSync(join(i18n, "locales", s.input)))
      throw new InputError(`locales: the layer has no locale source ${s.input} (line "${s.line}")`, {
        hint: "the names are those of usr/share/i18n/locales (Debian package locales); is `locales` in debian.packages?",
      });
    if (
      !existsSync(join(i18n, "charmaps", `${s.charmap}.gz`)) &&
      !existsSync(join(i18n, "charmaps", s.charmap))
    )
      throw new InputError(`locales: the layer has no charmap ${s.charmap} (line "${s.line}")`);
  }
  await mkdir(join(treeDir, LOCALE_DIR), { recursive: true });
  const generated = await mapLimit(specs, opts.jobs ?? availableParallelism(), async (s) => {
    const started = Date.now();
    const final = join(treeDir, LOCALE_DIR, s.name);
    const tmpName = `${s.name}.compat-new`;
    await rm(join(treeDir, LOCALE_DIR, tmpName), { recursive: true, force: true });
    const out = `${prefix}/${LOCALE_DIR}/${tmpName}`;
    // -c: write the locale despite warnings (exit status 1), as Debian's locale-gen does.
    const r = await opts.inLayer(
      [
        `${prefix}/usr/bin/env`,
        "-i",
        `I18NPATH=${prefix}/usr/share/i18n`,
        `${prefix}/usr/bin/localedef`,
        "--no-archive",
        "-c",
        "-i",
        s.input,
        "-f",
        s.charmap,
        out,
      ],
      { okStatuses: [0, 1], ...(opts.logTo ? { logTo: opts.logTo } : {}) },
    );
    if (!existsSync(join(treeDir, LOCALE_DIR, tmpName, "LC_CTYPE")))
      throw new ToolError(
        `localedef wrote no ${s.name} (exit status ${r.status})`,
        { command: "localedef", exitStatus: r.status, stderrTail: r.stderr },
        { details: r.stderr.trim().split("\n").slice(-5) },
      );
    await rm(final, { recursive: true, force: true });
    await rename(join(treeDir, LOCALE_DIR, tmpName), final);
    return { ...s, ms: Date.now() - started };
  });
  return { generated, dir: `${prefix}/${LOCALE_DIR}` };
}

/** The `locale` wrapper: `locale -a` lists LOCPATH's locales; anything else runs the real binary. */
export function localeWrapper(prefix: string): string {
  return `#!${prefix}/bin/bash
# Written by compat. Debian's locale(1) lists the locales under the host's /usr/lib/locale (a path
# compiled into it, LOCPATH is ignored), while the layer's glibc loads them from LOCPATH. So
# \`locale -a\` lists those; every other use runs the real binary.
EPREFIX='${prefix.replaceAll("'", `'\\''`)}'
if [[ $# -eq 1 && ( $1 == -a || $1 == --all-locales ) ]]; then
\tIFS=: read -r -a dirs <<< "\${LOCPATH:-\${EPREFIX}/${LOCALE_DIR}}"
\t{
\t\techo C
\t\techo POSIX
\t\tfor dir in "\${dirs[@]}"; do
\t\t\tfor d in "\${dir}"/*/; do
\t\t\t\td=\${d%/}
\t\t\t\t[[ -f \${d}/LC_IDENTIFICATION && \${d##*/} != *.compat-new ]] && echo "\${d##*/}"
\t\t\tdone
\t\tdone
\t} | LC_ALL=C "\${EPREFIX}/usr/bin/sort" -u
\texit "\${PIPESTATUS[1]}"
fi
exec "\${EPREFIX}/${REAL_LOCALE}" "$@"
`;
}

/** Move usr/bin/locale aside and put the wrapper in its place (idempotent). */
export async function installLocaleLister(treeDir: string, prefix: string): Promise<void> {
  const bin = join(treeDir, "usr/bin/locale");
  const real = join(treeDir, REAL_LOCALE);
  if (!existsSync(real)) {
    if (!existsSync(bin))
      throw new InputError(`${bin}: the layer has no locale program (Debian package libc-bin)`);
    await mkdir(join(treeDir, "usr/lib/compat"), { recursive: true });
    await rename(bin, real);
  }
  await writeFile(`${bin}.compat-new`, localeWrapper(prefix), { mode: 0o755 });
  await chmod(`${bin}.compat-new`, 0o755);
  await rename(`${bin}.compat-new`, bin);
}
