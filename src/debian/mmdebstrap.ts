/**
 * Build a Debian root file system for a layer with mmdebstrap (the debian flavor's bootstrap).
 *
 *   const r = await runMmdebstrap({ settings: spec.debian, arch: "x86_64", targetDir, logTo });
 *   // targetDir now holds the usr-merged tree; r.durationMs, r.command
 *
 *   await checkDebianPackages({ settings, arch })   // the same package list, apt --simulate only (~2 s)
 *
 * - Sources: the spec's mirror, else the host's Debian apt sources (see sources.ts), fed on stdin.
 * - dpkg runs with force-unsafe-io (the tree is thrown away on failure) and path excludes for
 *   man pages, info, docs (copyright files kept) and message catalogs (locale.alias kept): the
 *   relocated binaries look for catalogs under the host's /usr/share/locale anyway (relocation.md §7.4).
 * - The NSS modules a site may name are extracted into the tree (nss.ts).
 * - A package Debian does not have → InputError naming every such package (apt's "Unable to
 *   locate package X" and "Package 'X' has no installation candidate"); a missing mmdebstrap →
 *   the ToolError of exec/run.ts naming the Debian package; any other failure → ToolError with the
 *   tail of mmdebstrap's output.
 * - targetDir must not exist or be empty (mmdebstrap's rule). As root mmdebstrap picks its root mode
 *   (tested); as another user its unshare mode (not tested here).
 * - In root mode mmdebstrap mounts /proc, /sys, /dev/pts and /dev/shm into the tree and unmounts
 *   them at the end; it runs in a mount namespace of its own (`unshare --mount`), so when it is
 *   killed those mounts go with it instead of staying on the host under the tree.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { InputError, ToolError } from "../errors.js";
import { formatCommand, requireTool, run } from "../exec/run.js";
import type { Arch } from "../layer/id.js";
import { log } from "../log.js";
import { type DebianSettings, debianSuiteFor } from "../spec/schema.js";
import { DEFAULT_NSS_PACKAGES, nssCustomizeHook } from "./nss.js";
import { type AptSource, debianSources, readHostAptSources } from "./sources.js";

/** Debian's name for each layer architecture. */
export const DEBIAN_ARCH: Record<Arch, string> = {
  x86_64: "amd64",
  aarch64: "arm64",
  riscv64: "riscv64",
  ppc64le: "ppc64el",
};

/** dpkg path filters: what a compat layer does not need. Copyright files and locale.alias stay. */
export const DPKG_PATH_FILTERS = [
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/locale/*",
  "path-include=/usr/share/locale/locale.alias",
  "path-exclude=/usr/share/lintian/*",
];

/**
 * The path excludes drop a package's doc files but not always the links to them (perl's
 * `Changes.gz -> changelog.gz`, python's `changelog.gz -> NEWS.gz`): remove the links that dangle
 * under the excluded directories, judged inside the tree (chroot), so the layer has none.
 */
export const DANGLING_EXCLUDED_LINKS_HOOK =
  'chroot "$1" find /usr/share/doc /usr/share/man /usr/share/info /usr/share/locale /usr/share/lintian -xtype l -delete 2>/dev/null || true';

/**
 * mmdebstrap copies the build host's /etc/hostname and /etc/resolv.conf into the tree (its manual,
 * SOURCE_DATE_EPOCH): a layer would then differ from host to host. Neither belongs in a prefix
 * (a layer that wants the host's resolv.conf links it: hostSymlinks), so both go.
 */
export const HOST_COPIES_HOOK = 'rm -f "$1/etc/hostname" "$1/etc/resolv.conf"';

export interface MmdebstrapOptions {
  settings: DebianSettings;
  /** SOURCE_DATE_EPOCH for mmdebstrap, apt, dpkg and the maintainer scripts (mmdebstrap's reproducible mode). */
  sourceDateEpoch?: number;
  arch: Arch;
  /** Where the tree goes; must not exist or be empty. */
  targetDir: string;
  /** Every line mmdebstrap and apt print (the stage log). */
  logTo?: Writable;
  /** Keep man pages, docs and message catalogs (default false). */
  keepDocs?: boolean;
  /** NSS module packages to extract into the tree (default DEFAULT_NSS_PACKAGES; [] for none). */
  nssPackages?: readonly string[];
  /** Host apt sources (default: read from /etc/apt); only used without `settings.mirror`. */
  hostSources?: readonly AptSource[];
  signal?: AbortSignal;
  timeoutMs?: number;
  /** The spec field the packages come from, for the error naming one apt does not have (default debian.packages). */
  packagesField?: string;
}

export interface MmdebstrapResult {
  /** The command as run (for the build record). */
  command: string;
  /** The deb822 sources given on stdin. */
  sources: string;
  durationMs: number;
}

export interface MmdebstrapInvocation {
  args: string[];
  /** deb822 sources for stdin (the mirror argument is `-`). */
  input: string;
}

/** The mmdebstrap arguments and stdin for a build. Pure given the host's sources. */
export function mmdebstrapInvocation(
  opts: Pick<MmdebstrapOptions, "settings" | "arch" | "targetDir" | "keepDocs" | "nssPackages"> & {
    hostSources: readonly AptSource[];
    simulate?: boolean;
  },
): MmdebstrapInvocation {
  const { settings } = opts;
  const suite = debianSuiteFor(settings, opts.arch);
  const args = [
    `--variant=${settings.variant}`,
    `--architectures=${DEBIAN_ARCH[opts.arch]}`,
    // a simulation writes nothing; as a tarball target mmdebstrap works in a directory of its own,
    // which its unshare mode (a user other than root) can write
    opts.simulate ? "--format=tar" : "--format=directory",
  ];
  if (settings.packages.length) args.push(`--include=${settings.packages.join(",")}`);
  if (opts.simulate) args.push("--simulate");
  else {
    args.push("--dpkgopt=force-unsafe-io");
    if (!opts.keepDocs) {
      for (const f of DPKG_PATH_FILTERS) args.push(`--dpkgopt=${f}`);
      args.push(`--customize-hook=${DANGLING_EXCLUDED_LINKS_HOOK}`);
    }
    const nss = opts.nssPackages ?? DEFAULT_NSS_PACKAGES;
    if (nss.length) args.push(`--customize-hook=${nssCustomizeHook(nss)}`);
    args.push(`--customize-hook=${HOST_COPIES_HOOK}`);
  }
  args.push(suite, opts.targetDir, "-");
  return { args, input: debianSources({ ...settings, suite }, opts.hostSources) };
}

/** Packages apt says it does not have, from mmdebstrap/apt output. */
export function unknownPackages(output: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /^E: Unable to locate package (\S+)/gm,
    /^E: Package '([^']+)' has no installation candidate/gm,
    /^E: Couldn't find any package by (?:glob|regex) '([^']+)'/gm,
  ];
  for (const re of patterns) for (const m of output.matchAll(re)) found.add(m[1]!);
  return [...found];
}

function unknownPackagesError(
  names: string[],
  settings: DebianSettings,
  arch: Arch,
  field = "debian.packages",
): InputError {
  const where = `${debianSuiteFor(settings, arch)} (${settings.components.join(", ")}) for ${DEBIAN_ARCH[arch]}`;
  return new InputError(
    `${field}: Debian ${where} has no package${names.length > 1 ? "s" : ""} ${names.join(", ")}`,
    {
      details: names.map((n) => `${n}: not found by apt`),
      hint: "check the names at https://packages.debian.org (binary package names, e.g. python3 not python), the suite and the components",
    },
  );
}

/**
 * As root (mmdebstrap's root mode, which mounts), the command in a mount namespace of its own:
 * its mounts (/proc, /dev, /sys of the chroot) never reach the host. A slave, not a private, copy
 * of the host's mounts, so that the host's unmounts reach it: a private copy of a CernVM-FS
 * repository's mounts, held for the whole build, makes a `cvmfs_server publish` on the same machine
 * hang at its remount until the build ends.
 */
export function inOwnMountNamespace(simulate: boolean, args: string[]): [string, string[]] {
  if (simulate || process.getuid?.() !== 0) return ["mmdebstrap", args];
  return ["unshare", ["--mount", "--propagation", "slave", "--", "mmdebstrap", ...args]];
}

async function invoke(
  opts: MmdebstrapOptions,
  simulate: boolean,
): Promise<{ command: string; input: string; durationMs: number }> {
  await requireTool("mmdebstrap"); // named with its package even when unshare runs it
  const hostSources = opts.hostSources ?? (opts.settings.mirror ? [] : await readHostAptSources());
  const { args, input } = mmdebstrapInvocation({ ...opts, hostSources, simulate });
  const sde = opts.sourceDateEpoch;
  const env = buildEnvironment(sde);
  const command = `${Object.entries(env)
    .filter(([k]) => k in REPRODUCIBLE_ENV || k === "SOURCE_DATE_EPOCH")
    .map(([k, v]) => `${k}=${v} `)
    .join("")}${formatCommand("mmdebstrap", args)}`;
  opts.logTo?.write(`$ ${command} <<'EOF'\n${input}EOF\n`);
  let output = "";
  const collect = (c: Buffer) => {
    output += c.toString("utf8");
    if (output.length > 1 << 20) output = output.slice(-(1 << 19));
  };
  try {
    const [cmd, argv] = inOwnMountNamespace(simulate, args);
    const r = await run(cmd, argv, {
      input,
      env,
      ...(opts.logTo ? { logTo: opts.logTo } : {}),
      onStdout: collect,
      onStderr: collect,
      captureStdout: false,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
    return { command, input, durationMs: r.durationMs };
  } catch (e) {
    const missing = unknownPackages(output);
    if (e instanceof ToolError && missing.length)
      throw unknownPackagesError(missing, opts.settings, opts.arch, opts.packagesField);
    throw e;
  }
}

/** Run mmdebstrap into `targetDir`. */
/**
 * What the maintainer scripts run under, besides the caller's environment (a proxy, say): Python
 * must not write the bytecode of the modules it imports while it runs them (py3compile imports
 * debpython, whose __pycache__ would then depend on the process's refcounts: it differed between a
 * build started over ssh and one started by Slurm), and its hashes are fixed (set order in pycs).
 */
const REPRODUCIBLE_ENV = { PYTHONDONTWRITEBYTECODE: "1", PYTHONHASHSEED: "0" } as const;

function buildEnvironment(sde: number | undefined): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...REPRODUCIBLE_ENV,
    ...(sde === undefined ? {} : { SOURCE_DATE_EPOCH: String(sde) }),
  };
}

export async function runMmdebstrap(opts: MmdebstrapOptions): Promise<MmdebstrapResult> {
  log.debug(
    `mmdebstrap ${debianSuiteFor(opts.settings, opts.arch)} ${opts.settings.variant} → ${opts.targetDir}`,
  );
  const r = await invoke(opts, false);
  return { command: r.command, sources: r.input, durationMs: r.durationMs };
}

/**
 * Check that apt can resolve the spec's packages, without downloading or installing anything
 * (mmdebstrap --simulate into a scratch directory, about 2 s). Throws the same InputError as a build.
 */
export async function checkDebianPackages(
  opts: Omit<MmdebstrapOptions, "targetDir" | "keepDocs" | "nssPackages">,
): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), "compat-simulate-"));
  try {
    await invoke({ ...opts, targetDir: join(scratch, "simulate.tar") }, true);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
