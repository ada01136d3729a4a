/**
 * Relocate a root file system tree into a prefix (relocation.md §4): the tree already sits at its
 * final place inside a staging repository root (`treeDir`), but its programs must run at the real
 * prefix path (`prefix`, e.g. /cvmfs/software.example.org/versions/2025.06/compat/linux/x86_64).
 *
 *   const report = await relocateTree({ treeDir, prefix, logTo });
 *   formatRelocationReport(report)   // lines for the stage log
 *
 * What it does, each file once (hard links are patched once, through their first path):
 * - ELF (detected by reading headers with elf.ts, never `file`):
 *   - a dynamic executable (PT_INTERP) gets `prefix + its interpreter` as PT_INTERP;
 *   - every object with DT_NEEDED gets a DT_RPATH (`patchelf --force-rpath`): the entries of its
 *     existing RUNPATH/RPATH (`$ORIGIN` kept, absolute ones re-rooted into the prefix), then the
 *     prefix's library directories;
 *   - left alone: objects without DT_NEEDED (ld.so, static-pie ldconfig, plain data .so),
 *     static executables, relocatable objects, and objects of another machine;
 *   - patchelf runs in a worker pool (one process per core), on batches of files that get the same
 *     interpreter and RPATH; each result is read back and checked.
 * - Executable scripts: `#!/abs/interp args` becomes `#!<prefix>/abs/interp args` when the interpreter
 *   exists in the tree (symlinks resolved with the tree as root); otherwise it is listed as
 *   unresolvable. Shebangs longer than 127 bytes are listed (kernels before 5.1 cut them there).
 * - Absolute symlinks: `/x` becomes `<prefix>/x`, except targets under /proc, /dev, /sys and /run;
 *   relative links that climb above the tree root are re-pointed the same way.
 * - Device nodes, FIFOs and sockets are removed; setuid/setgid bits are cleared (a CVMFS layer is
 *   mounted nosuid, and artifacts refuse them).
 */

import { existsSync, type Stats } from "node:fs";
import {
  chmod,
  lstat,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, normalize, posix } from "node:path";
import type { Writable } from "node:stream";
import { InputError, ToolError, ValidationError } from "../errors.js";
import { run } from "../exec/run.js";
import { type EntryKind, walk } from "../paths/tree.js";
import { type ElfInfo, isElfHeader, readElf } from "./elf.js";

export interface RelocationOptions {
  /** Where the tree is now. */
  treeDir: string;
  /** The absolute path the tree will have at run time. */
  prefix: string;
  /** Library directories for DT_RPATH, relative to the prefix (default: found in the tree, see `libraryDirs`). */
  libDirs?: string[];
  /** Concurrent patchelf processes (default: the number of cores). */
  jobs?: number;
  /** patchelf's own output and a line per failure. */
  logTo?: Writable;
  signal?: AbortSignal;
}

export interface NotRelocated {
  /** Path relative to the tree. */
  path: string;
  reason: string;
}

export interface RelocationReport {
  prefix: string;
  /** Library directories put in every DT_RPATH (absolute, under the prefix). */
  rpath: string[];
  files: number;
  elf: {
    /** ELF files found (hard links counted once). */
    objects: number;
    /** Got a new PT_INTERP (and a DT_RPATH). */
    executables: number;
    /** Got a DT_RPATH only. */
    libraries: number;
    /** Had a DT_RUNPATH, now a DT_RPATH with its entries kept or re-rooted. */
    runpathsConverted: number;
    /** No DT_NEEDED, static, relocatable or another machine: nothing to do. */
    leftAlone: number;
  };
  hardLinks: number;
  shebangs: { rewritten: number; unresolvable: NotRelocated[]; overOldKernelLimit: NotRelocated[] };
  symlinks: { rewritten: number; keptSystem: number };
  removed: { deviceNodes: number; fifos: number; sockets: number };
  setidCleared: string[];
  /** What could not be relocated (patchelf failures, interpreters missing from the tree …). */
  failed: NotRelocated[];
  durationMs: number;
  patchelfMs: number;
}

/** Link targets that stay as they are: the run-time kernel and runtime file systems. */
const SYSTEM_TARGETS = ["/proc", "/dev", "/sys", "/run"];
/** BINPRM_BUF_SIZE was 128 before Linux 5.1 (256 since): "#!" + interpreter line must fit in 127 bytes. */
const OLD_KERNEL_SHEBANG_LIMIT = 127;

const isUnder = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/**
 * Resolve an absolute path the way the layer will see it: symlinks inside the tree are followed with
 * the tree as `/`, and link targets already pointing into the prefix count as tree paths. Returns the
 * tree-relative path (starting with `/`) of what it names, or undefined when it does not exist in the tree.
 */
export class TreeResolver {
  private readonly cache = new Map<string, string | undefined>();
  constructor(
    readonly treeDir: string,
    readonly prefix: string,
  ) {}

  /** A link target or absolute path as a tree path (`/usr/bin/x`), stripping the prefix when present. */
  toTreePath(p: string): string {
    return isUnder(p, this.prefix) ? p.slice(this.prefix.length) || "/" : p;
  }

  async resolve(absPath: string): Promise<string | undefined> {
    const key = absPath;
    if (this.cache.has(key)) return this.cache.get(key);
    const r = await this.walk(this.toTreePath(absPath));
    this.cache.set(key, r);
    return r;
  }

  private async walk(start: string): Promise<string | undefined> {
    const todo = start.split("/").filter(Boolean);
    const done: string[] = [];
    let hops = 0;
    while (todo.length) {
      const c = todo.shift()!;
      if (c === ".") continue;
      if (c === "..") {
        done.pop();
        continue;
      }
      const here = `/${[...done, c].join("/")}`;
      let st: Stats;
      try {
        st = await lstat(join(this.treeDir, here));
      } catch {
        return undefined;
      }
      if (!st.isSymbolicLink()) {
        done.push(c);
        continue;
      }
      if (++hops > 40) return undefined;
      const target = await readlink(join(this.treeDir, here));
      const t = target.startsWith("/") ? this.toTreePath(target) : target;
      if (t.startsWith("/")) done.length = 0;
      todo.unshift(...t.split("/").filter(Boolean));
    }
    return `/${done.join("/")}`;
  }
}

/** The multiarch directory (e.g. x86_64-linux-gnu) under usr/lib or lib that holds libc.so.6. */
export async function multiarchTriplet(treeDir: string): Promise<string> {
  for (const base of ["usr/lib", "lib"]) {
    if (!existsSync(join(treeDir, base))) continue;
    for (const name of (await readdir(join(treeDir, base))).sort()) {
      if (/-linux-gnu/.test(name) && existsSync(join(treeDir, base, name, "libc.so.6"))) return name;
    }
  }
  throw new InputError(`${treeDir}: no libc.so.6 under usr/lib/*-linux-gnu* or lib/*-linux-gnu*`, {
    hint: "the tree is not a glibc root file system (did mmdebstrap finish?)",
  });
}

/**
 * The directories for DT_RPATH, relative to the tree: each real directory (not reached through a
 * symlink, as a usr-merged tree's /lib) of usr/lib/<triplet>, usr/lib, lib/<triplet>, lib.
 */
export async function libraryDirs(treeDir: string): Promise<string[]> {
  const triplet = await multiarchTriplet(treeDir);
  const treeReal = await realpath(treeDir);
  const out: string[] = [];
  for (const rel of [`usr/lib/${triplet}`, "usr/lib", `lib/${triplet}`, "lib"]) {
    try {
      if ((await realpath(join(treeDir, rel))) === join(treeReal, rel)) out.push(rel);
    } catch {
      /* absent */
    }
  }
  return out;
}

interface Entry {
  rel: string;
  kind: Exclude<EntryKind, "unknown">;
  st: Stats;
}

/** Every entry below `root` (paths/tree.ts's walk), sorted by path. */
function treeEntries(root: string): Entry[] {
  const out: Entry[] = [];
  for (const e of walk(root, { names: "lossy" }))
    if (e.rel !== "") out.push({ rel: e.rel, kind: e.kind === "unknown" ? "socket" : e.kind, st: e.st! });
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** Run `fn` over `items` with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The new DT_RPATH: old entries ($ORIGIN kept, absolute ones re-rooted), then the prefix's library dirs. */
export function relocatedRpath(
  info: Pick<ElfInfo, "rpath" | "runpath">,
  prefix: string,
  libDirs: string[],
): string {
  const old = [info.rpath, info.runpath]
    .filter((v): v is string => Boolean(v))
    .flatMap((v) => v.split(":"))
    .filter(Boolean)
    .map((d) => (d.startsWith("/") && !isUnder(d, prefix) ? `${prefix}${d}` : d));
  return [...new Set([...old, ...libDirs])].join(":");
}

/** Parse a shebang line: interpreter and the rest, or undefined when there is none. */
export function parseShebang(
  head: Buffer,
): { interpreter: string; rest: string; lineLength: number } | undefined {
  if (head[0] !== 0x23 || head[1] !== 0x21) return undefined;
  const nl = head.indexOf(0x0a);
  const line = head.toString("latin1", 2, nl === -1 ? head.length : nl);
  const m = /^([ \t]*)(\S+)(.*)$/.exec(line);
  if (!m) return undefined;
  return { interpreter: m[2]!, rest: m[3]!, lineLength: nl === -1 ? head.length : nl };
}

interface PatchJob {
  rel: string;
  info: ElfInfo;
  interpreter?: string;
  rpath: string;
}

/** A new link waits under `<link>.compat-relink-<pid>` until it is renamed over the old one. */
const RELINK_SUFFIX = ".compat-relink-";
const RELINK_RE = /\.compat-relink-\d+$/;

/** Relocate `treeDir` for `prefix`. Throws InputError for a bad prefix or a tree without libc. */
export async function relocateTree(opts: RelocationOptions): Promise<RelocationReport> {
  const started = Date.now();
  const prefix = opts.prefix.replace(/\/+$/, "");
  if (!posix.isAbsolute(prefix) || normalize(prefix) !== prefix)
    throw new InputError(`relocation prefix ${opts.prefix} is not a normalised absolute path`);
  const tree = opts.treeDir;
  const libDirs = (opts.libDirs ?? (await libraryDirs(tree))).map((d) => `${prefix}/${d}`);
  const resolver = new TreeResolver(tree, prefix);
  const report: RelocationReport = {
    prefix,
    rpath: libDirs,
    files: 0,
    elf: { objects: 0, executables: 0, libraries: 0, runpathsConverted: 0, leftAlone: 0 },
    hardLinks: 0,
    shebangs: { rewritten: 0, unresolvable: [], overOldKernelLimit: [] },
    symlinks: { rewritten: 0, keptSystem: 0 },
    removed: { deviceNodes: 0, fifos: 0, sockets: 0 },
    setidCleared: [],
    failed: [],
    durationMs: 0,
    patchelfMs: 0,
  };
  const libc = await readElf(join(tree, libDirs[0]!.slice(prefix.length), "libc.so.6"));
  const machine = libc?.machine;

  const entries = treeEntries(tree);
  const seenInodes = new Set<string>();
  const jobs: PatchJob[] = [];

  await mapLimit(entries, 32, async (e) => {
    const abs = join(tree, e.rel);
    switch (e.kind) {
      case "char":
      case "block":
        await rm(abs);
        report.removed.deviceNodes++;
        return;
      case "fifo":
        await rm(abs);
        report.removed.fifos++;
        return;
      case "socket":
        await rm(abs);
        report.removed.sockets++;
        return;
      case "symlink":
        await relocateSymlink(e.rel);
        return;
      case "dir":
        return;
      case "file":
        break;
    }
    report.files++;
    if (e.st.mode & 0o6000) {
      await chmod(abs, e.st.mode & 0o1777);
      report.setidCleared.push(e.rel);
    }
    if (e.st.nlink > 1) {
      const key = `${e.st.dev}:${e.st.ino}`;
      if (seenInodes.has(key)) {
        report.hardLinks++;
        return;
      }
      seenInodes.add(key);
    }
    if (e.st.size < 4) return;
    const head = await readHead(abs, 512);
    if (isElfHeader(head)) await planElf(e.rel);
    else if (e.st.mode & 0o111) await relocateShebang(e.rel, head);
  });

  async function relocateSymlink(rel: string): Promise<void> {
    const abs = join(tree, rel);
    // what a relocation killed between making a new link and renaming it over the old one left
    if (RELINK_RE.test(rel)) {
      await rm(abs, { force: true });
      return;
    }
    const target = await readlink(abs);
    let newTarget: string | undefined;
    if (target.startsWith("/")) {
      if (isUnder(target, prefix)) return;
      if (SYSTEM_TARGETS.some((d) => isUnder(target, d))) {
        report.symlinks.keptSystem++;
        return;
      }
      newTarget = `${prefix}${target}`;
    } else {
      // A relative link that climbs above the tree root means "/" in a chroot; in the prefix it must not escape.
      if (!escapesRoot(posix.dirname(rel), target)) return;
      newTarget = `${prefix}${posix.join("/", posix.dirname(rel), target)}`;
    }
    // made aside and renamed over the old link: killed at any moment, the link is the old or the new one
    const tmp = `${abs}${RELINK_SUFFIX}${process.pid}`;
    await rm(tmp, { force: true });
    await symlink(newTarget, tmp);
    await rename(tmp, abs);
    report.symlinks.rewritten++;
  }

  async function planElf(rel: string): Promise<void> {
    const info = await readElf(join(tree, rel));
    if (!info) return;
    report.elf.objects++;
    if (
      (machine !== undefined && info.machine !== machine) ||
      info.type === "rel" ||
      info.needed.length === 0
    ) {
      report.elf.leftAlone++;
      return;
    }
    const job: PatchJob = { rel, info, rpath: relocatedRpath(info, prefix, libDirs) };
    if (info.interpreter !== undefined && !isUnder(info.interpreter, prefix)) {
      const inTree = await resolver.resolve(info.interpreter);
      if (!inTree) {
        report.failed.push({ path: rel, reason: `interpreter ${info.interpreter} is not in the tree` });
        return;
      }
      job.interpreter = `${prefix}${info.interpreter}`;
    }
    jobs.push(job);
  }

  async function relocateShebang(rel: string, head: Buffer): Promise<void> {
    const sb = parseShebang(head);
    if (sb === undefined) return;
    if (!sb.interpreter.startsWith("/") || isUnder(sb.interpreter, prefix)) return;
    if (!(await resolver.resolve(sb.interpreter))) {
      report.shebangs.unresolvable.push({
        path: rel,
        reason: `interpreter ${sb.interpreter} is not in the tree`,
      });
      return;
    }
    const abs = join(tree, rel);
    const body = await readFile(abs);
    const line = `#!${prefix}${sb.interpreter}${sb.rest}`;
    await writeFile(abs, Buffer.concat([Buffer.from(line, "latin1"), body.subarray(sb.lineLength)]));
    report.shebangs.rewritten++;
    if (Buffer.byteLength(line, "latin1") > OLD_KERNEL_SHEBANG_LIMIT)
      report.shebangs.overOldKernelLimit.push({
        path: rel,
        reason: `${Buffer.byteLength(line, "latin1")} bytes: cut at ${OLD_KERNEL_SHEBANG_LIMIT} by kernels before 5.1`,
      });
  }

  const t0 = Date.now();
  const concurrency = opts.jobs ?? availableParallelism();
  const patchelf = async (batch: PatchJob[]): Promise<string | undefined> => {
    const first = batch[0]!;
    const args: string[] = [];
    if (first.interpreter) args.push("--set-interpreter", first.interpreter);
    args.push("--force-rpath", "--set-rpath", first.rpath, ...batch.map((j) => join(tree, j.rel)));
    try {
      await run("patchelf", args, {
        ...(opts.logTo ? { logTo: opts.logTo } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return undefined;
    } catch (e) {
      if (e instanceof ToolError && e.exitStatus === null) throw e; // patchelf missing: the whole step fails
      return `patchelf failed: ${e instanceof ToolError ? e.stderrTail.trim().split("\n").pop() : String(e)}`;
    }
  };
  const verify = async (job: PatchJob): Promise<void> => {
    const after = await readElf(join(tree, job.rel));
    if (
      !after ||
      after.rpath !== job.rpath ||
      after.runpath !== undefined ||
      (job.interpreter && after.interpreter !== job.interpreter)
    ) {
      report.failed.push({ path: job.rel, reason: "patchelf did not leave the expected PT_INTERP/DT_RPATH" });
      return;
    }
    if (job.interpreter) report.elf.executables++;
    else report.elf.libraries++;
    if (job.info.runpath) report.elf.runpathsConverted++;
  };
  // One patchelf process per batch of files that get the same interpreter and RPATH (most of them),
  // enough batches to keep every core busy; a failing batch is retried file by file.
  await mapLimit(batchJobs(jobs, concurrency), concurrency, async (batch) => {
    const failure = await patchelf(batch);
    if (failure === undefined || batch.length === 1) {
      if (failure !== undefined) {
        report.failed.push({ path: batch[0]!.rel, reason: failure });
        opts.logTo?.write(`${batch[0]!.rel}: ${failure}\n`);
        return;
      }
      for (const job of batch) await verify(job);
      return;
    }
    for (const job of batch) {
      const one = await patchelf([job]);
      if (one === undefined) await verify(job);
      else {
        report.failed.push({ path: job.rel, reason: one });
        opts.logTo?.write(`${job.rel}: ${one}\n`);
      }
    }
  });
  report.patchelfMs = Date.now() - t0;
  report.failed.sort((a, b) => (a.path < b.path ? -1 : 1));
  report.shebangs.unresolvable.sort((a, b) => (a.path < b.path ? -1 : 1));
  report.shebangs.overOldKernelLimit.sort((a, b) => (a.path < b.path ? -1 : 1));
  report.setidCleared.sort();
  report.durationMs = Date.now() - started;
  return report;
}

/** Group jobs with the same interpreter and RPATH into batches, at least `workers` of them when there are enough jobs. */
function batchJobs(jobs: PatchJob[], workers: number, maxBatch = 64): PatchJob[][] {
  const groups = new Map<string, PatchJob[]>();
  for (const j of jobs) {
    const key = `${j.interpreter ?? ""}\0${j.rpath}`;
    const g = groups.get(key);
    if (g) g.push(j);
    else groups.set(key, [j]);
  }
  const size = Math.max(1, Math.min(maxBatch, Math.ceil(jobs.length / Math.max(1, workers) / 2)));
  const out: PatchJob[][] = [];
  for (const g of groups.values()) for (let i = 0; i < g.length; i += size) out.push(g.slice(i, i + size));
  return out;
}

/** Does a relative link target, resolved from directory `dir` (tree-relative), climb above the tree root? */
export function escapesRoot(dir: string, target: string): boolean {
  let depth = dir === "." || dir === "" ? 0 : dir.split("/").filter(Boolean).length;
  for (const c of target.split("/")) {
    if (c === "..") {
      if (--depth < 0) return true;
    } else if (c && c !== ".") depth++;
  }
  return false;
}

/**
 * A relocation that left ELF objects unpatched fails its stage here, naming them, instead of
 * leaving it to the checks: an executable still asking for the host's loader is not a layer.
 */
export function assertRelocated(r: RelocationReport, reportPath: string): void {
  if (r.failed.length === 0) return;
  throw new ValidationError(`${r.failed.length} ELF object(s) could not be relocated into ${r.prefix}`, {
    details: [
      ...r.failed.slice(0, 20).map((f) => `${f.path}: ${f.reason}`),
      ...(r.failed.length > 20 ? [`… and ${r.failed.length - 20} more`] : []),
    ],
    hint: `the whole report is ${reportPath}; after fixing the cause, --resume runs the relocation again (it is idempotent)`,
  });
}

/** The report as lines for a stage log (and the checks' summary). */
export function formatRelocationReport(r: RelocationReport): string[] {
  const lines = [
    `relocated into ${r.prefix} in ${(r.durationMs / 1000).toFixed(2)} s (patchelf ${(r.patchelfMs / 1000).toFixed(2)} s)`,
    `DT_RPATH: ${r.rpath.join(":")}`,
    `ELF: ${r.elf.objects} objects; ${r.elf.executables} executables got PT_INTERP + DT_RPATH, ${r.elf.libraries} libraries got DT_RPATH (${r.elf.runpathsConverted} RUNPATH → RPATH), ${r.elf.leftAlone} left alone (no DT_NEEDED, static or foreign); ${r.hardLinks} hard links`,
    `shebangs: ${r.shebangs.rewritten} rewritten, ${r.shebangs.unresolvable.length} unresolvable, ${r.shebangs.overOldKernelLimit.length} longer than ${OLD_KERNEL_SHEBANG_LIMIT} bytes`,
    `symlinks: ${r.symlinks.rewritten} re-pointed into the prefix, ${r.symlinks.keptSystem} to /proc, /dev, /sys or /run kept`,
    `removed: ${r.removed.deviceNodes} device nodes, ${r.removed.fifos} FIFOs, ${r.removed.sockets} sockets; setuid/setgid cleared on ${r.setidCleared.length} files`,
  ];
  for (const f of r.failed) lines.push(`not relocated: ${f.path}: ${f.reason}`);
  for (const f of r.shebangs.unresolvable) lines.push(`shebang not relocated: ${f.path}: ${f.reason}`);
  for (const f of r.shebangs.overOldKernelLimit) lines.push(`long shebang: ${f.path}: ${f.reason}`);
  return lines;
}
