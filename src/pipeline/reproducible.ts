/**
 * `compat build SPEC --check-reproducible [--against ARTIFACT]`: build the layer twice (copies A
 * and B), each into a root and run directory of its own under `<runs>/reproducible-<id>/`, pack
 * both and compare the artifacts' sha256; when they differ, name every differing file (and
 * package) from the two artifacts' indexes (the diff code of `compat diff`). With `--against`, one
 * build (B) is compared with a given artifact (A, e.g. the published one), built with that
 * artifact's SOURCE_DATE_EPOCH (its name's time). The live layer and existing artifacts are never
 * touched: nothing here writes outside the work directory.
 *
 *   const v = await checkReproducible({ specFile, runsDir, signal, onEvent });
 *   v.reproducible   // the two sha256 are equal
 *   v.differing      // [{ path: "usr/lib/python3.11/…pyc", differs: ["content"] }, …]
 *
 * Where a copy is built is one function, `CopyBuilder`: `buildCopyHere` runs this compat's own
 * `compat build … --json` as a child and packs its layer. An executor (ssh, Slurm) is another
 * CopyBuilder, run on the build host and returning the artifact copied back, its sha256 checked.
 */
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { availableParallelism, freemem } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type DifferingEntry,
  differingEntries,
  diffPackages,
  loadSide,
  type PackageDiff,
} from "../artifacts/diff.js";
import { hashFile } from "../artifacts/entry-index.js";
import { resolveLayerSource } from "../artifacts/layer-source.js";
import { parseArtifactName } from "../artifacts/name.js";
import { packLayer } from "../artifacts/pack.js";
import { CompatError, InputError, ToolError } from "../errors.js";
import type { JobPlace } from "../exec/job.js";
import { run } from "../exec/run.js";
import { fileKind } from "../paths/regular-file.js";
import type { BuildEvent } from "./progress.js";
import { buildOnExecutor } from "./remote-build.js";
import { newRunId } from "./run-dir.js";

export type CopyName = "A" | "B";

export interface CopyRequest {
  copy: CopyName;
  specFile: string;
  arch?: string;
  /** This copy's own directory: its root, run directories, artifact and log go under it. */
  dir: string;
  /** SOURCE_DATE_EPOCH to build with; undefined: the build resolves its own (env, spec, derived). */
  sourceDateEpoch?: number;
  /** Each progress event of the copy's build. */
  onEvent?: (e: BuildEvent) => void;
  signal: AbortSignal;
}

export interface BuiltCopy {
  copy: CopyName;
  artifact: string;
  sha256: string;
  /** The run directory of the copy's build (logs, timings); absent for a given artifact. */
  runDir?: string;
  durationMs: number;
}

/** Builds one copy and packs it: the place an executor plugs in. */
export type CopyBuilder = (r: CopyRequest) => Promise<BuiltCopy>;

/** This compat's CLI entry, so a copy is built exactly as `compat build` builds (dist/, also from tests). */
function compatEntry(): string {
  for (const rel of ["../cli/bin.js", "../../dist/cli/bin.js"]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new ToolError(
    "cannot find compat's dist/cli/bin.js to build the copies with",
    { command: "compat build", exitStatus: null },
    { hint: "run npm run build" },
  );
}

/** A copy built here: `compat build SPEC --root DIR/root --runs-dir DIR/runs --json` as a child, then packed. */
export const buildCopyHere: CopyBuilder = async (r) => {
  const started = Date.now();
  await mkdir(r.dir, { recursive: true });
  const args = [compatEntry(), "build", r.specFile, "--json", "--root", join(r.dir, "root")];
  args.push("--runs-dir", join(r.dir, "runs"), ...(r.arch ? ["--arch", r.arch] : []));
  const env = { ...process.env };
  if (r.sourceDateEpoch !== undefined) env.SOURCE_DATE_EPOCH = String(r.sourceDateEpoch);
  let pending = "";
  let end: Extract<BuildEvent, { event: "build-end" }> | undefined;
  let failed: Extract<BuildEvent, { event: "stage-failed" }> | undefined;
  const onStdout = (c: Buffer) => {
    pending += c.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      let e: BuildEvent;
      try {
        e = JSON.parse(line) as BuildEvent;
      } catch {
        continue;
      }
      if (e.event === "build-end") end = e;
      if (e.event === "stage-failed") failed = e;
      r.onEvent?.(e);
    }
  };
  try {
    await run(process.execPath, args, { env, onStdout, captureStdout: false, signal: r.signal });
  } catch (e) {
    if (!(e instanceof ToolError) || e.exitStatus === null) throw e;
    const details = [
      ...(failed ? [`stage ${failed.stage}: ${failed.error}`, `log: ${failed.log}`] : []),
      ...e.stderrTail
        .split("\n")
        .filter((l) => l.trim())
        .slice(-8),
    ];
    throw new CompatError(
      e.exitStatus === 2 ? "input" : e.exitStatus === 3 ? "check" : "tool",
      `build ${r.copy} of ${r.specFile} failed (exit ${e.exitStatus})`,
      { details, hint: `its run directories are under ${join(r.dir, "runs")}` },
    );
  }
  if (end?.status !== "success" || !end.layer)
    throw new ToolError(`build ${r.copy} ended without a layer`, {
      command: `compat ${args.slice(1).join(" ")}`,
      exitStatus: 0,
    });
  const source = await resolveLayerSource(end.layer, {});
  const packed = await packLayer({ ...source, outDir: join(r.dir, "artifact") });
  return {
    copy: r.copy,
    artifact: packed.artifact,
    sha256: packed.manifest.sha256,
    runDir: end.runDir,
    durationMs: Date.now() - started,
  };
};

/**
 * A copy built on an executor (ssh, Slurm: exec/job.ts), in a root of its job's own there, packed
 * there, and brought back with its sha256 checked and every member verified (remote-build.ts).
 */
export function copyOnExecutor(place: JobPlace): CopyBuilder {
  return async (r) => {
    const started = Date.now();
    await mkdir(r.dir, { recursive: true });
    const built = await buildOnExecutor({
      specFile: r.specFile,
      ...(r.arch ? { arch: r.arch } : {}),
      ownRoot: true,
      ...(r.sourceDateEpoch !== undefined ? { sourceDateEpoch: r.sourceDateEpoch } : {}),
      place,
      outDir: join(r.dir, "artifact"),
      signal: r.signal,
      onLine: (line) => {
        let e: unknown;
        try {
          e = JSON.parse(line);
        } catch {
          return; // not one of the build's events
        }
        if (e && typeof e === "object" && typeof (e as { event?: unknown }).event === "string")
          r.onEvent?.(e as BuildEvent);
      },
    });
    return {
      copy: r.copy,
      artifact: built.artifact.path,
      sha256: built.artifact.sha256,
      durationMs: Date.now() - started,
    };
  };
}

export interface ReproducibleOptions {
  specFile: string;
  arch?: string;
  /** Where the work directory `reproducible-<id>/` goes (the build's --runs-dir). */
  runsDir: string;
  /** Compare one build with this artifact instead of building twice. */
  against?: string;
  signal: AbortSignal;
  /** Progress of each copy's build. */
  onEvent?: (copy: CopyName, e: BuildEvent) => void;
  /** Build both copies at once (default: when the machine has 4 cores and 4 GiB free). */
  concurrent?: boolean;
  buildCopy?: CopyBuilder;
  /** Where copy B is built, when not where A is (another build host: the question of EESSI#220). */
  buildCopyB?: CopyBuilder;
}

export interface ReproducibleVerdict {
  reproducible: boolean;
  spec: string;
  copies: Array<BuiltCopy & { sourceDateEpoch: number }>;
  concurrent: boolean;
  /** Kept (with the artifacts when they differ) for a look with compat diff or diffoscope. */
  workDir: string;
  /** Every path that differs, sorted; empty when reproducible. */
  differing: DifferingEntry[];
  /** Package versions that differ (the builds saw different mirror states), when both have a database. */
  packages: PackageDiff | null;
  durationMs: number;
}

/** Both copies at once when the machine has room for two builds. */
export function canBuildConcurrently(cores = availableParallelism(), free = freemem()): boolean {
  return cores >= 4 && free >= 4 * 2 ** 30;
}

export async function checkReproducible(o: ReproducibleOptions): Promise<ReproducibleVerdict> {
  const started = Date.now();
  const buildA = o.buildCopy ?? buildCopyHere;
  const buildB = o.buildCopyB ?? buildA;
  const buildCopy = (r: CopyRequest) => (r.copy === "A" ? buildA(r) : buildB(r));
  const given = o.against ? await givenArtifact(o.against) : undefined;
  const workDir = resolve(o.runsDir, `reproducible-${newRunId(o.arch ?? "host")}`);
  await mkdir(workDir, { recursive: true });
  // a copy built elsewhere takes nothing of this machine's cores
  const concurrent = !given && (o.concurrent ?? (o.buildCopyB !== undefined || canBuildConcurrently()));
  // one copy failing stops the other (its layer is about to be removed)
  const stop = new AbortController();
  const signal = AbortSignal.any([o.signal, stop.signal]);
  const request = (copy: CopyName): CopyRequest => ({
    copy,
    specFile: o.specFile,
    ...(o.arch ? { arch: o.arch } : {}),
    dir: join(workDir, copy),
    ...(given ? { sourceDateEpoch: given.epoch } : {}),
    onEvent: (e) => o.onEvent?.(copy, e),
    signal,
  });
  let copies: BuiltCopy[];
  try {
    if (given) copies = [given.copy, await buildCopy(request("B"))];
    else if (concurrent) {
      const both = [buildCopy(request("A")), buildCopy(request("B"))];
      for (const p of both) p.catch(() => stop.abort());
      const settled = await Promise.allSettled(both);
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
      copies = settled.map((r) => (r as PromiseFulfilledResult<BuiltCopy>).value);
    } else copies = [await buildCopy(request("A")), await buildCopy(request("B"))];
  } finally {
    // the layers are big and nobody uses them: only the artifacts are compared
    for (const c of ["A", "B"]) await rm(join(workDir, c, "root"), { recursive: true, force: true });
  }
  const [a, b] = copies as [BuiltCopy, BuiltCopy];
  const reproducible = a.sha256 === b.sha256;
  let differing: DifferingEntry[] = [];
  let packages: PackageDiff | null = null;
  if (!reproducible) {
    const [sa, sb] = await Promise.all([loadSide(a.artifact), loadSide(b.artifact)]);
    differing = differingEntries(sa.index!, sb.index!);
    if (sa.packages && sb.packages && sa.packages.database === sb.packages.database)
      packages = diffPackages(sa.packages, sb.packages);
  } else {
    // the same bytes twice: the built artifacts are not kept
    for (const c of copies)
      if (c.runDir) await rm(join(workDir, c.copy, "artifact"), { recursive: true, force: true });
  }
  const verdict: ReproducibleVerdict = {
    reproducible,
    spec: resolve(o.specFile),
    copies: copies.map((c) => ({ ...c, sourceDateEpoch: parseArtifactName(basename(c.artifact)).epoch })),
    concurrent,
    workDir,
    differing,
    packages,
    durationMs: Date.now() - started,
  };
  await writeFile(join(workDir, "verdict.json"), `${JSON.stringify(verdict, null, 2)}\n`);
  return verdict;
}

/** The artifact a build is compared with: its sha256 (of the file, not what a manifest says) and name's epoch. */
async function givenArtifact(path: string): Promise<{ copy: BuiltCopy; epoch: number }> {
  // before it is hashed: a FIFO (or a device) by an artifact's name would block the read for ever
  const kind = fileKind(path);
  if (kind !== "file")
    throw new InputError(
      `--against ${path}: ${kind === "missing" ? "no such file" : `a ${kind}, not an artifact file`}`,
      {
        hint: "give a full artifact (.tar.zst or .tar.gz), e.g. the published one",
      },
    );
  const id = parseArtifactName(basename(path));
  if (id.kind !== "full")
    throw new InputError(`--against ${path}: a delta artifact, not a layer`, {
      hint: "compare with the full artifact the delta was made against or from",
    });
  const started = Date.now();
  const sha256 = hashFile(path).digest;
  return {
    copy: { copy: "A", artifact: resolve(path), sha256, durationMs: Date.now() - started },
    epoch: id.epoch,
  };
}
