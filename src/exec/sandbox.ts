/**
 * The sandbox: builds and everything run "inside" a layer go through here. bubblewrap (bwrap) puts
 * a local directory at `/cvmfs/<repository>` (or a prefix directory at its real prefix path), so the
 * layer's programs find themselves where their PT_INTERP, RPATHs and shebangs point, without
 * touching the host's /cvmfs (EESSI does the same with Apptainer and a bind-mounted host dir).
 *
 * The sandbox's `/` is a fresh tmpfs made by bwrap, populated with the host's top-level entries
 * (directories bound, symlinks re-created), with its own tmpfs at /cvmfs. Mount points that do
 * not exist are therefore created in that tmpfs, never on the host (binding onto a missing path
 * under a bound host `/` would make bwrap create it on the host). The host is read-only inside,
 * except /tmp, /var/tmp (for build stages: empty ones of their own) and the paths a caller lists
 * as writable.
 *
 * Given a build root (`root`, src/buildroot: a Debian userland compat made and pinned), the sandbox's
 * `/` is made from it instead (root-view.ts): the build then sees the build root's compiler, tools
 * and libraries and nothing of the host's userland, except the writable paths, the binds, and with
 * the network the host's /etc/resolv.conf and /etc/hosts.
 *
 * Works as root (no user namespace needed) and unprivileged (bwrap creates a user namespace); when
 * that is impossible the error says which sysctl to set.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { isAbsolute, posix } from "node:path";
import { InputError, ToolError } from "../errors.js";
import { absolutePathProblem } from "../paths/rules.js";
import { rootViewArgs } from "./root-view.js";
import { missingToolError, type RunOptions, type RunResult, requireTool, run } from "./run.js";

/** What the sandbox shows at /cvmfs. */
export type LayerMount =
  /** A local repository root, seen at `/cvmfs/<repository>`. */
  | { root: string; repository: string }
  /** One prefix directory (e.g. a layer being built aside), seen at its real prefix path. */
  | { prefixDir: string; prefix: string };

export interface Bind {
  src: string;
  dest: string;
  readOnly?: boolean;
}

export interface SandboxOptions {
  /** Bind the layer read-only (default false: builds write into it). */
  readOnlyLayer?: boolean;
  /** Host paths bound read-write at the same path (e.g. the working directory); /tmp and /var/tmp always are. */
  writable?: string[];
  /** Extra binds (e.g. a bootstrap script at a fixed path). */
  binds?: Bind[];
  /** Working directory inside the sandbox (default: the caller's, when it is visible inside, else /). */
  cwd?: string;
  /** Run as this uid/gid inside a user namespace (root outside stays the owner of what is written).
   *  The Gentoo bootstrap refuses to run as uid 0. */
  uid?: number;
  gid?: number;
  /** Keep the host network (default true: mmdebstrap, emerge and git need it). */
  network?: boolean;
  /**
   * A fresh, empty /tmp and /var/tmp (tmpfs) instead of the host's: build stages run code a spec
   * brings (ebuilds of its overlays, its packages' scripts), which must not reach the host's
   * temporary directories.
   */
  privateTmp?: boolean;
  /**
   * A build root (a directory compat made with mmdebstrap, src/buildroot) used read-only as `/`
   * instead of the host's top level: the build sees its compiler, tools and libraries, and nothing
   * of the host's userland but what is bound (the writable paths, `binds`, and with the network
   * the host's /etc/resolv.conf and /etc/hosts). /tmp and /var/tmp are then always private.
   */
  root?: string;
}

/** Host top-level entries never bound into the sandbox: bwrap makes its own /proc and /dev, and /cvmfs is ours. */
const OWN_TOP_LEVEL = new Set(["proc", "dev", "cvmfs"]);
const ALWAYS_WRITABLE = ["/tmp", "/var/tmp"];
/** Top-level names a build root never provides: the sandbox makes them (/tmp: a private tmpfs). */
const OWN_IN_BUILD_ROOT = new Set([...OWN_TOP_LEVEL, "tmp"]);
/** The host's files a build in a build root needs for the network (its DNS and its name for localhost). */
export const NETWORK_FILES = ["/etc/resolv.conf", "/etc/hosts"];

export interface HostEntry {
  name: string;
  kind: "dir" | "file" | "symlink";
  /** For symlinks, the link text. */
  target?: string;
}

/** The host's top-level entries, as the sandbox's root will mirror them. */
export function hostTopLevel(hostRoot = "/"): HostEntry[] {
  const out: HostEntry[] = [];
  for (const d of readdirSync(hostRoot, { withFileTypes: true })) {
    if (OWN_TOP_LEVEL.has(d.name)) continue;
    const full = posix.join(hostRoot, d.name);
    if (d.isSymbolicLink()) out.push({ name: d.name, kind: "symlink", target: readlinkSync(full) });
    else if (d.isDirectory()) out.push({ name: d.name, kind: "dir" });
    else if (d.isFile()) out.push({ name: d.name, kind: "file" });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** The bwrap arguments (everything before the command) for a layer mount. Pure given the host entries. */
export function sandboxArgs(
  mount: LayerMount,
  opts: SandboxOptions = {},
  host: { entries: HostEntry[]; root: boolean } = { entries: hostTopLevel(), root: isRoot() },
): string[] {
  const args: string[] = ["--die-with-parent", "--unshare-pid", "--unshare-ipc"];
  if (opts.network === false) args.push("--unshare-net");
  const needUserns = !host.root || opts.uid !== undefined || opts.gid !== undefined;
  if (needUserns) args.push("--unshare-user");
  if (opts.uid !== undefined) args.push("--uid", String(opts.uid));
  if (opts.gid !== undefined) args.push("--gid", String(opts.gid));

  const inRoot = opts.root !== undefined;
  const privateTmp = inRoot || (opts.privateTmp ?? false);
  const writable = [...(privateTmp ? [] : ALWAYS_WRITABLE), ...(opts.writable ?? [])];
  for (const w of writable) {
    if (!isAbsolute(w)) throw new InputError(`sandbox: writable path ${w} is not absolute`);
    if (w === "/")
      throw new InputError(
        "sandbox: the host's / cannot be writable (mount points would be made on the host)",
      );
    if (w === "/cvmfs" || w.startsWith("/cvmfs/"))
      throw new InputError(`sandbox: ${w} is under /cvmfs, which the sandbox owns`);
  }
  const networkFiles = inRoot && opts.network !== false ? NETWORK_FILES.filter((f) => existsSync(f)) : [];
  let readOnlyAgain: string[] = [];
  if (opts.root !== undefined) {
    const view = rootViewArgs(
      opts.root,
      [
        { path: "/var/tmp", kind: "dir" },
        ...networkFiles.map((path) => ({ path, kind: "file" as const })),
        ...writable.map((path) => ({ path, kind: "dir" as const })),
        ...(opts.binds ?? []).map((b) => ({ path: b.dest, kind: bindKind(b.src) })),
      ],
      OWN_IN_BUILD_ROOT,
    );
    args.push(...view.args);
    readOnlyAgain = view.readOnlyAgain;
  } else
    for (const e of host.entries) {
      const p = `/${e.name}`;
      if (e.kind === "symlink") args.push("--symlink", e.target!, p);
      else args.push("--ro-bind", p, p);
    }
  args.push("--proc", "/proc", "--dev", "/dev");
  if (privateTmp) for (const t of ALWAYS_WRITABLE) args.push("--tmpfs", t);
  for (const f of networkFiles) args.push("--ro-bind", f, f);
  for (const w of writable) args.push("--bind-try", w, w);
  args.push("--tmpfs", "/cvmfs");
  const layerBind = opts.readOnlyLayer ? "--ro-bind" : "--bind";
  if ("root" in mount) {
    assertRepositoryName(mount.repository);
    args.push(layerBind, mount.root, `/cvmfs/${mount.repository}`);
  } else {
    const unsafe = absolutePathProblem(mount.prefix, { normalised: true });
    if (unsafe || !mount.prefix.startsWith("/cvmfs/"))
      throw new InputError(
        `sandbox: prefix ${JSON.stringify(mount.prefix)} ${unsafe ? unsafe.message : "is not under /cvmfs"}`,
      );
    args.push(layerBind, mount.prefixDir, mount.prefix);
  }
  for (const b of opts.binds ?? []) args.push(b.readOnly ? "--ro-bind" : "--bind", b.src, b.dest);
  for (const d of readOnlyAgain) args.push("--remount-ro", d);
  args.push("--chdir", opts.cwd ?? defaultCwd(writable, privateTmp, inRoot));
  return args;
}

function defaultCwd(writable: string[], privateTmp: boolean, inRoot: boolean): string {
  const cwd = process.cwd();
  const under = (dir: string) => cwd === dir || cwd.startsWith(`${dir}/`);
  if (writable.some(under)) return cwd;
  // The host is visible read-only everywhere except /cvmfs (and, with privateTmp, /tmp and
  // /var/tmp), so the caller's directory exists inside unless it is under one of those; in a
  // build root none of the host's directories is there.
  if (inRoot) return "/";
  const hidden = ["/cvmfs", ...(privateTmp ? ALWAYS_WRITABLE : [])].some(under);
  return hidden ? "/" : cwd;
}

/** What a bind puts at its destination: a directory or a file (a missing source: bwrap says so). */
function bindKind(src: string): "dir" | "file" {
  try {
    return statSync(src).isDirectory() ? "dir" : "file";
  } catch {
    return "file";
  }
}

function assertRepositoryName(name: string): void {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new InputError(`sandbox: ${name} is not a repository name`);
}

/** How a command runs inside: an argv, or one shell command line for the host's /bin/sh. */
export type SandboxCommand = readonly string[] | string;

export type LayerRunOptions = RunOptions & SandboxOptions;

/** Run a command in the sandbox. Resolves like run(); the same ToolError on failure. */
export async function runInLayer(
  mount: LayerMount,
  command: SandboxCommand,
  opts: LayerRunOptions = {},
): Promise<RunResult> {
  const bwrap = await ensureSandbox();
  const argv = typeof command === "string" ? ["/bin/sh", "-c", command] : [...command];
  if (argv.length === 0) throw new InputError("sandbox: empty command");
  const { cwd, ...runOpts } = opts;
  return run(bwrap, [...sandboxArgs(mount, { ...opts, cwd }), "--", ...argv], runOpts);
}

let probe: Promise<string> | undefined;

/**
 * Make sure bwrap exists and can create a sandbox here; resolves to its path. Checked once per
 * process. Missing bwrap → "install bubblewrap"; no user namespaces → the sysctl to set.
 */
export function ensureSandbox(): Promise<string> {
  probe ??= probeSandbox().catch((e: unknown) => {
    probe = undefined;
    throw e;
  });
  return probe;
}

export async function probeSandbox(): Promise<string> {
  let bwrap: string;
  try {
    bwrap = await requireTool("bwrap");
  } catch {
    throw missingToolError("bwrap");
  }
  const args = ["--ro-bind", "/", "/", "--unshare-pid"];
  if (!isRoot()) args.push("--unshare-user");
  try {
    await run(bwrap, [...args, "--", "/bin/true"], { timeoutMs: 30_000 });
  } catch (e) {
    const stderr = e instanceof ToolError ? e.stderrTail.trim() : String(e);
    throw sandboxUnavailable(stderr);
  }
  return bwrap;
}

/** The error for a bwrap that cannot create its namespaces, naming the setting that prevents it. */
export function sandboxUnavailable(
  stderr: string,
  readSysctl: (name: string) => string | undefined = sysctl,
) {
  const userns = /namespace|uid map|setting up uid|Operation not permitted|ENOSPC/i.test(stderr);
  const hints: string[] = [];
  if (readSysctl("kernel.unprivileged_userns_clone") === "0")
    hints.push("sysctl -w kernel.unprivileged_userns_clone=1");
  if (readSysctl("user.max_user_namespaces") === "0") hints.push("sysctl -w user.max_user_namespaces=15000");
  if (readSysctl("kernel.apparmor_restrict_unprivileged_userns") === "1")
    hints.push("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0");
  const hint = userns
    ? `unprivileged user namespaces are not available to this user: run as root, or enable them with ${
        hints.length > 0
          ? hints.join(" and ")
          : "sysctl -w user.max_user_namespaces=15000 (and on Debian 10 or older kernel.unprivileged_userns_clone=1; on Ubuntu 23.10+ kernel.apparmor_restrict_unprivileged_userns=0); inside a container, the container must allow nested user namespaces"
      }`
    : "bubblewrap could not create a sandbox; see its message above (package: bubblewrap)";
  return new ToolError(
    userns
      ? "bwrap cannot create a sandbox: user namespaces are not available"
      : "bwrap cannot create a sandbox",
    { command: "bwrap", exitStatus: 1, stderrTail: stderr },
    { details: stderr ? stderr.split("\n").slice(-5) : [], hint },
  );
}

function sysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name.replaceAll(".", "/")}`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Carried by every program a build starts (pipeline/lock.ts finds what a killed build left running). */
export const RUN_ID_ENV = "COMPAT_RUN_ID";

/** Variables passed from the caller into a clean environment: terminal and proxies. */
const PASSED_THROUGH = [
  "TERM",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
];

/**
 * A clean environment for programs run in a layer during a build: a standard PATH, HOME, a UTF-8
 * C locale, the terminal and proxy settings, the build's run id (lock.ts), and nothing of the
 * caller's library or tool paths (LD_LIBRARY_PATH, PKG_CONFIG_PATH, PERL5LIB …).
 */
export function cleanEnvironment(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: process.env.HOME ?? "/root",
    LC_ALL: "C.UTF-8",
    // a Python program run in a layer being built (a stage, a check) must not leave bytecode in it
    PYTHONDONTWRITEBYTECODE: "1",
  };
  for (const k of [...PASSED_THROUGH, RUN_ID_ENV]) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}
