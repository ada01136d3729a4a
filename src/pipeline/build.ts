/**
 * `compat build`: one layer for one arch, as a list of stages over a run directory.
 *
 * The layer is built aside, in `.build-<run id>/prefix` beside its prefix path in the local
 * repository root; the sandbox shows that directory at the real prefix path. Only when every stage
 * passed is it moved into place (activate.ts). A failed or killed build leaves the prefix path as
 * it was; `--resume RUN` continues after the last completed stage.
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { ensureBuildRoot, releaseBuildRoot } from "../buildroot/ensure.js";
import { parseRecordedBuildRoot, type RecordedBuildRoot, recordedBuildRoot } from "../buildroot/record.js";
import { buildRootFor } from "../buildroot/spec.js";
import type { BuildRoot } from "../buildroot/types.js";
import { runCheckStage } from "../checks/stage.js";
import { CompatError, InputError } from "../errors.js";
import { diskUsage, formatBytes } from "../exec/disk.js";
import { assertArchRunnable } from "../exec/emulation.js";
import { run as runTool } from "../exec/run.js";
import { cleanEnvironment, type LayerRunOptions, runInLayer } from "../exec/sandbox.js";
import { assertBuildUser } from "../flavors/common.js";
import { getFlavor, planOf, planProblems } from "../flavors/index.js";
import { ACTIVATE_STAGE } from "../flavors/stage.js";
import type { BuildStage, StageContext } from "../flavors/types.js";
import { LAST_EPOCH, resolveSourceDateEpoch, type SourceDateEpoch } from "../layer/source-date-epoch.js";
import { log } from "../log.js";
import { safeName } from "../paths/rules.js";
import { defaultStateDir } from "../publish/target.js";
import { loadSpec } from "../spec/load.js";
import { placeLayer } from "../spec/open.js";
import type { ResolvedLayer } from "../spec/resolve.js";
import type { LayerSpec } from "../spec/schema.js";
import { COMPAT_VERSION } from "../version.js";
import { activateLayer, removeWorkDir } from "./activate.js";
import { killLeftovers, PidLock, RUN_ID_ENV } from "./lock.js";
import type { BuildEvent, BuildEventInput, ProgressReporter } from "./progress.js";
import { newRunId, RunDir, type RunPlan } from "./run-dir.js";
import { BuildInterrupted, runStages } from "./runner.js";

export interface BuildOptions {
  specFile: string;
  arch?: string;
  root?: string;
  /** A run id (under runsDir) or run directory to continue. */
  resume?: string;
  /** Where run directories go (default `runs` in the working directory). */
  runsDir?: string;
  reporter: ProgressReporter;
  signal?: AbortSignal;
  /** The command line that would continue a run, with RUN where the run id goes (for hints). */
  resumeHint?: (runId: string) => string;
  /** The stages to run instead of the flavor's build (an update: the flavor's update mode). */
  stages?: (layer: ResolvedLayer) => BuildStage[];
  /**
   * Run in a build root (src/buildroot): true, false (`--no-build-root`: the host's userland), or
   * undefined: the flavor's default (usesBuildRoot).
   */
  buildRoot?: boolean;
  /** compat's state dir, where build roots are cached (default: $COMPAT_STATE_DIR, else defaultStateDir()). */
  stateDir?: string;
}

/**
 * Whether a build runs in a build root: as the command line says, else when the spec has a
 * `buildRoot` section or its flavor builds in one by default (gentoo does, debian does not).
 */
export function usesBuildRoot(spec: LayerSpec, option: boolean | undefined): boolean {
  return option ?? (spec.buildRoot !== undefined || getFlavor(spec.flavor).buildRootByDefault);
}

/** In the run directory: the build root the run's stages ran in (a resumed run must use the same). */
export const BUILD_ROOT_FILE = "build-root.json";

export interface BuildOutcome {
  runId: string;
  runDir: string;
  /** The layer's local path (the prefix inside the local repository root). */
  layer: string;
  prefix: string;
  previousLayer?: string;
  durationMs: number;
}

export const DEFAULT_RUNS_DIR = "runs";

/** What a build of this spec would do: the run plan without a run id. */
export async function planBuild(
  o: Pick<BuildOptions, "specFile" | "arch" | "root">,
): Promise<Omit<RunPlan, "runId" | "workDir" | "prefixDir" | "createdAt">> {
  const loaded = await loadSpec(o.specFile, { check: planProblems });
  return describeBuild(loaded.spec, loaded.hash, o.specFile, o.arch, o.root).plan;
}

function describeBuild(
  spec: LayerSpec,
  hash: string,
  specFile: string,
  archOption: string | undefined,
  rootOption: string | undefined,
  stagesOf?: (layer: ResolvedLayer) => BuildStage[],
) {
  const { layer, root, localPrefix: target } = placeLayer(spec, { arch: archOption, root: rootOption });
  const arch = layer.arch;
  const flavor = getFlavor(spec.flavor);
  const flavorStages = stagesOf ? stagesOf(layer) : flavor.api.plan(layer);
  const stages = [...flavorStages, ACTIVATE_STAGE].map((s) => ({
    id: s.id,
    description: s.description,
  }));
  return {
    layer,
    flavor,
    flavorStages,
    plan: {
      specFile: resolve(specFile),
      specHash: hash,
      arch,
      flavor: spec.flavor,
      repository: layer.repository,
      prefix: layer.prefix,
      root,
      target,
      stages,
      layerPlan: planOf(layer),
      compatVersion: COMPAT_VERSION,
    },
  };
}

export async function buildLayer(o: BuildOptions): Promise<BuildOutcome> {
  const runsDir = resolve(o.runsDir ?? DEFAULT_RUNS_DIR);
  const signal = o.signal ?? new AbortController().signal;
  const resumeHint = o.resumeHint ?? ((id: string) => `compat build ${o.specFile} --resume ${id}`);

  const loaded = await loadSpec(o.specFile, { check: planProblems });
  const described = describeBuild(loaded.spec, loaded.hash, o.specFile, o.arch, o.root, o.stages);
  const { layer } = described;
  // Before a run directory or a work directory exists: nothing to resume when the host cannot build it.
  assertArchRunnable(layer.arch);
  assertBuildUser(getFlavor(layer.spec.flavor));
  const stateDir = resolve(o.stateDir ?? process.env.COMPAT_STATE_DIR ?? defaultStateDir());
  let buildRoot: BuildRoot | undefined;
  /** Made (or reused) once the run is known to go ahead, before a run or work directory exists. */
  const ensureRoot = async (): Promise<BuildRoot | undefined> => {
    if (!usesBuildRoot(loaded.spec, o.buildRoot)) return undefined;
    buildRoot = await ensureBuildRoot(buildRootFor(loaded.spec, layer.arch), {
      arch: layer.arch,
      stateDir,
      note: (m) => log.info(`build root: ${m}`),
      signal,
    });
    log.info(
      `building in the build root ${buildRoot.identity.slice(0, 12)} (${buildRoot.suite}, ${buildRoot.arch}, ${buildRoot.packages.length} packages${buildRoot.made ? ", made now" : ""})`,
    );
    return buildRoot;
  };
  try {
    return await buildWith(o, { runsDir, signal, resumeHint, loaded, described, ensureRoot });
  } finally {
    if (buildRoot) await releaseBuildRoot(buildRoot, stateDir);
  }
}

async function buildWith(
  o: BuildOptions,
  a: {
    runsDir: string;
    signal: AbortSignal;
    resumeHint: (id: string) => string;
    loaded: Awaited<ReturnType<typeof loadSpec>>;
    described: ReturnType<typeof describeBuild>;
    ensureRoot: () => Promise<BuildRoot | undefined>;
  },
): Promise<BuildOutcome> {
  const { runsDir, signal, resumeHint, loaded, described } = a;
  const { layer, flavorStages } = described;
  let runDir: RunDir;
  let plan: RunPlan;
  let specText: string;
  let buildRoot: BuildRoot | undefined;
  const targetLockFile = (target: string) => join(dirname(target), `.${basename(target)}.build-lock`);
  const lockTarget = (target: string, runId: string) =>
    PidLock.acquire(targetLockFile(target), `a build of ${target} (run ${runId})`);
  let targetLock: PidLock | undefined;
  /** Directories a new run made above the work dir (removed again when nothing was built). */
  let madeParents: string | undefined;
  if (o.resume) {
    runDir = RunDir.open(runsDir, o.resume);
    plan = runDir.readPlan();
    specText = runDir.readSpecText();
    checkResumable(plan, described.plan, runDir);
    buildRoot = await a.ensureRoot();
    checkSameBuildRoot(runDir, buildRoot);
  } else {
    const runId = newRunId(described.plan.arch);
    plan = {
      ...described.plan,
      runId,
      ...workPaths(described.plan.target, runId),
      createdAt: new Date().toISOString(),
    };
    specText = loaded.text;
    // a package Debian does not have (a bad buildRoot.packages) leaves nothing behind
    buildRoot = await a.ensureRoot();
    // A build of the same layer in progress refuses this one before it writes a run or work dir.
    madeParents = await mkdir(dirname(plan.target), { recursive: true });
    try {
      targetLock = await lockTarget(plan.target, runId);
    } catch (e) {
      await removeEmptyParents(madeParents, dirname(plan.target));
      throw e;
    }
    try {
      runDir = await RunDir.create(runsDir, runId);
      await runDir.writePlan(plan, specText);
      if (buildRoot)
        await writeFile(
          runDir.path(BUILD_ROOT_FILE),
          `${JSON.stringify(recordedBuildRoot(buildRoot), null, 2)}\n`,
        );
    } catch (e) {
      await targetLock.release();
      await removeEmptyParents(madeParents, dirname(plan.target));
      throw e;
    }
  }
  const stages: BuildStage[] = [
    ...flavorStages,
    {
      ...ACTIVATE_STAGE,
      run: async () => {
        previousLayer = await activateLayer(plan.prefixDir, plan.target, runDir.path("activate.json"));
        await removeWorkDir(plan.workDir);
      },
    },
  ];
  let previousLayer: string | undefined;

  let runLock: PidLock;
  try {
    await mkdir(plan.workDir, { recursive: true });
    runLock = await PidLock.acquire(runDir.path("lock"), `build run ${runDir.id}`);
  } catch (e) {
    await targetLock?.release();
    throw e;
  }
  const savedRunId = process.env[RUN_ID_ENV];
  try {
    targetLock ??= await lockTarget(plan.target, runDir.id);
    const leftovers = await killLeftovers(runDir.id);
    if (leftovers > 0) log.warn(`stopped ${leftovers} process(es) left running by the interrupted build`);
    warnAboutAbandonedBuilds(plan);
    await runDir.clearResult();
    process.env[RUN_ID_ENV] = runDir.id;

    const timings = await runDir.timings();
    const firstStart = timings[0]?.startedAt ?? new Date().toISOString();
    const started = Date.now();
    const emit = (e: BuildEventInput) => {
      const event = { time: new Date().toISOString(), ...e } as BuildEvent;
      o.reporter.emit(event);
      void runDir.appendEvent(event);
    };
    emit({
      event: "build-start",
      runId: runDir.id,
      runDir: runDir.dir,
      resumed: Boolean(o.resume),
      flavor: plan.flavor,
      arch: plan.arch,
      prefix: plan.prefix,
      target: plan.target,
      stages: stages.map((s) => ({ id: s.id, description: s.description, done: runDir.isDone(s.id) })),
    });
    const finish = async (status: "success" | "failed" | "interrupted", extra: object) => {
      const durationMs = Date.now() - started;
      await runDir.writeResult({
        runId: runDir.id,
        status,
        startedAt: new Date(started).toISOString(),
        endedAt: new Date().toISOString(),
        durationMs,
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        ...extra,
      });
      emit({
        event: "build-end",
        status,
        runId: runDir.id,
        runDir: runDir.dir,
        durationMs,
        ...(status === "success" ? { layer: plan.target, previousLayer } : {}),
      });
      return durationMs;
    };
    try {
      await runStages({
        run: runDir,
        stages,
        emit,
        signal,
        resumeCommand: resumeHint(runDir.id),
        writesTo: [plan.workDir, runDir.dir],
        context: (stage, stageLog) =>
          createStageContext({
            layer,
            specFile: plan.specFile,
            specText,
            specHash: plan.specHash,
            runId: runDir.id,
            runDir: runDir.dir,
            prefixDir: plan.prefixDir,
            workDir: plan.workDir,
            ...(buildRoot ? { buildRoot } : {}),
            startedAt: new Date(firstStart),
            log: stageLog,
            signal,
            onNote: (message) => emit({ event: "stage-note", stage: stage.id, message }),
          }),
      });
    } catch (e) {
      const failedStage =
        e instanceof BuildInterrupted ? e.stage : stages.find((s) => !runDir.isDone(s.id))?.id;
      await finish(e instanceof BuildInterrupted ? "interrupted" : "failed", {
        stage: failedStage,
        log: failedStage ? runDir.stageLog(failedStage) : undefined,
        error:
          e instanceof Error
            ? {
                message: e.message,
                details: "details" in e ? (e.details as string[]) : [],
                hint: "hint" in e ? (e.hint as string | undefined) : undefined,
              }
            : { message: String(e), details: [] },
      });
      if (e instanceof BuildInterrupted || !(e instanceof CompatError)) throw e;
      // Nothing built (a new run whose first stage, the preflight, failed): nothing is left behind.
      if (!o.resume && stages.every((s) => !runDir.isDone(s.id))) {
        await removeWorkDir(plan.workDir);
        await rm(runDir.dir, { recursive: true, force: true });
        await targetLock?.release();
        targetLock = undefined;
        await removeEmptyParents(madeParents, dirname(plan.target));
        throw nothingBuilt(e);
      }
      e.details.push(
        `--- the build directory ${plan.workDir} holds ${formatBytes(diskUsage(plan.workDir))}: continue with --resume, or remove it (and the run) with: compat prune`,
      );
      throw e;
    }
    const durationMs = await finish("success", { layer: plan.target, previousLayer });
    return {
      runId: runDir.id,
      runDir: runDir.dir,
      layer: plan.target,
      prefix: plan.prefix,
      previousLayer,
      durationMs,
    };
  } finally {
    if (savedRunId === undefined) delete process.env[RUN_ID_ENV];
    else process.env[RUN_ID_ENV] = savedRunId;
    await targetLock?.release();
    await runLock.release();
    o.reporter.close();
  }
}

/**
 * Where a run builds: `.build-<run id>/` beside the target, the layer in its `prefix/`. A resumed
 * run's plan.json must name exactly these (its stages remove and rename them).
 */
export function workPaths(target: string, runId: string): { workDir: string; prefixDir: string } {
  const workDir = join(dirname(target), `.build-${safeName(runId, "run id")}`);
  return { workDir, prefixDir: join(workDir, "prefix") };
}

function checkResumable(
  saved: RunPlan,
  now: Omit<RunPlan, "runId" | "workDir" | "prefixDir" | "createdAt">,
  run: RunDir,
) {
  const diffs: string[] = [];
  if (saved.specHash !== now.specHash)
    diffs.push(
      `the spec changed since the run started (spec hash ${saved.specHash.slice(0, 12)} → ${now.specHash.slice(0, 12)})`,
    );
  if (saved.arch !== now.arch) diffs.push(`the run builds ${saved.arch}, not ${now.arch}`);
  if (saved.root !== now.root) diffs.push(`the run builds into the root ${saved.root}, not ${now.root}`);
  if (diffs.length > 0)
    throw new InputError(`cannot resume run ${run.id}`, {
      details: diffs,
      hint: "start a new build without --resume, or resume with the spec, --arch and --root the run was started with",
    });
  // plan.json is a file on disk: what the stages remove and rename is recomputed, not trusted
  const want = { runId: run.id, target: now.target, ...workPaths(now.target, run.id) };
  const edited = (Object.keys(want) as Array<keyof typeof want>).filter((k) => saved[k] !== want[k]);
  if (edited.length > 0)
    throw new InputError(`cannot resume run ${run.id}: its plan.json does not match the run`, {
      details: edited.map(
        (k) => `${k}: ${JSON.stringify(saved[k])} in plan.json, ${JSON.stringify(want[k])} expected`,
      ),
      hint: "plan.json was edited or belongs to another run: start a new build without --resume",
    });
  const result = run.readResult();
  if (result?.status === "success")
    throw new InputError(`run ${run.id} already finished: the layer is at ${result.layer}`, {
      hint: "start a new build without --resume to build it again",
    });
  // What the completed stages made lives in the build directory: without it they would be skipped over nothing.
  const built = saved.stages.some((s) => s.id !== "preflight" && run.isDone(s.id));
  if (built && !existsSync(saved.workDir))
    throw new InputError(`cannot resume run ${run.id}: its build directory ${saved.workDir} is gone`, {
      details: ["it was removed (by hand, or by compat prune as abandoned) after the run stopped"],
      hint: "start a new build without --resume",
    });
}

/** A resumed run's stages ran in one build root: the rest must run in the same (or, without one, none). */
function checkSameBuildRoot(run: RunDir, now: BuildRoot | undefined): void {
  let saved: RecordedBuildRoot | undefined;
  try {
    saved = parseRecordedBuildRoot(JSON.parse(readFileSync(run.path(BUILD_ROOT_FILE), "utf8")));
  } catch {
    saved = undefined;
  }
  if (saved?.identity === now?.identity) return;
  const name = (r: { identity: string; suite: string } | undefined) =>
    r ? `the build root ${r.identity.slice(0, 12)} (${r.suite})` : "the host's userland (no build root)";
  throw new InputError(
    `cannot resume run ${run.id}: it started in ${name(saved)}, this build would run in ${name(now)}`,
    {
      hint: !saved
        ? "resume with --no-build-root, as the run was started, or start a new build"
        : !now
          ? "resume without --no-build-root, as the run was started, or start a new build"
          : "the cached build root changed (compat buildroot build --refresh, or prune): start a new build without --resume",
    },
  );
}

/** Build directories of earlier runs beside the prefix that nobody is resuming: say so, they take space. */
function warnAboutAbandonedBuilds(plan: RunPlan): void {
  const parent = dirname(plan.target);
  const others = readdirSync(parent).filter(
    // this build holds the target's lock, so no other build of this layer is running: these are abandoned
    (e) => e.startsWith(".build-") && e !== basename(plan.workDir),
  );
  if (others.length > 0)
    log.warn(
      `earlier builds that did not finish left ${others.map((e) => join(relative(process.cwd(), parent) || ".", e)).join(", ")}: resume them (--resume <run id>), or remove what no build is using with: compat prune`,
    );
}

/** What a stage context is made from: its values, plus where its notes go. */
export type StageContextInput = Omit<
  StageContext,
  "run" | "inLayer" | "buildTool" | "note" | "checkLayer" | "sourceDateEpoch"
> & {
  onNote?: (message: string) => void;
};

/** The context a stage runs with: its log, the sandbox with the layer at its prefix, notes. */
export function createStageContext(a: StageContextInput): StageContext {
  const { log: stageLog, signal, onNote, ...values } = a;
  const mount = { prefixDir: a.prefixDir, prefix: a.layer.prefix };
  /** In a build root nothing of the host is visible: the work directory (scripts, HOME) is bound. */
  const inRoot = (opts: LayerRunOptions): LayerRunOptions =>
    a.buildRoot
      ? { ...opts, root: a.buildRoot.dir, writable: [...new Set([a.workDir, ...(opts.writable ?? [])])] }
      : opts;
  const ctx: StageContext = {
    ...values,
    log: stageLog,
    signal,
    run: (cmd, args, opts = {}) => runTool(cmd, args, { logTo: stageLog, signal, ...opts }),
    inLayer: async (command, opts = {}) => {
      // every program run in the layer (maintainer scripts, localedef, emerge) gets the build's time
      const sde = String((await ctx.sourceDateEpoch()).epoch);
      return runInLayer(
        mount,
        command,
        inRoot({
          logTo: stageLog,
          signal,
          // what a spec brings (overlay ebuilds, package scripts) runs here: not the host's /tmp
          privateTmp: true,
          ...opts,
          env: { ...(opts.env ?? cleanEnvironment()), SOURCE_DATE_EPOCH: sde },
        }),
      );
    },
    buildTool: async (cmd, args, opts = {}) => {
      if (!a.buildRoot) return runTool(cmd, args, { logTo: stageLog, signal, ...opts });
      // the sandbox shows the prefix, which the first stages (preflight, repos) run before
      await mkdir(a.prefixDir, { recursive: true });
      return runInLayer(
        mount,
        [cmd, ...args],
        inRoot({ logTo: stageLog, signal, env: cleanEnvironment(), ...opts }),
      );
    },
    note: (message) => {
      stageLog.write(`--- ${message}\n`);
      onNote?.(message);
    },
    checkLayer: async (onResult) =>
      (
        await runCheckStage({
          layer: a.layer,
          prefixDir: a.prefixDir,
          runDir: a.runDir,
          buildRoot: a.buildRoot?.dir,
          onResult,
        })
      ).summary,
    sourceDateEpoch: () =>
      runSourceDateEpoch(a.runDir, async () => {
        const e = await resolveSourceDateEpoch({
          env: process.env.SOURCE_DATE_EPOCH,
          derive: () => getFlavor(a.layer.spec.flavor).api.sourceDateEpoch(ctx),
        });
        ctx.note(`SOURCE_DATE_EPOCH=${e.epoch} (${new Date(e.epoch * 1000).toISOString()}, from ${e.from})`);
        return e;
      }),
  };
  return ctx;
}

/** In the run directory: the run's SOURCE_DATE_EPOCH, resolved by its first stage that asks. */
export const SOURCE_DATE_EPOCH_FILE = "source-date-epoch.json";

async function runSourceDateEpoch(
  runDir: string,
  resolveIt: () => Promise<SourceDateEpoch>,
): Promise<SourceDateEpoch> {
  const file = join(runDir, SOURCE_DATE_EPOCH_FILE);
  try {
    const saved = JSON.parse(await readFile(file, "utf8")) as Partial<SourceDateEpoch>;
    // a file on disk: only a value a build could have resolved is taken, else it is resolved again
    if (
      typeof saved.epoch === "number" &&
      Number.isSafeInteger(saved.epoch) &&
      saved.epoch >= 0 &&
      saved.epoch <= LAST_EPOCH &&
      typeof saved.from === "string"
    )
      return { epoch: saved.epoch, from: saved.from };
  } catch {
    /* not resolved yet (or unreadable): resolve it */
  }
  const e = await resolveIt();
  await writeFile(file, `${JSON.stringify(e)}\n`);
  return e;
}

/**
 * The error of a new build that failed before any stage completed: its run and work directories
 * are gone, so it cannot be resumed; the log's tail is in the message.
 */
function nothingBuilt(e: CompatError): CompatError {
  const details = e.details.map((d) =>
    d.startsWith("--- full log: ")
      ? "--- nothing was built: the run directory and the build directory were removed"
      : d,
  );
  const hint =
    e.kind === "input"
      ? "fix the spec and build again"
      : "fix the cause and build again (a new build, no --resume)";
  return new CompatError(e.kind, e.message, { details, hint, cause: e.cause });
}

/** Remove `top` and the empty directories below it down to `bottom` (those a new run made), deepest first. */
async function removeEmptyParents(top: string | undefined, bottom: string): Promise<void> {
  if (!top) return;
  for (let dir = bottom; dir.length >= top.length; dir = dirname(dir)) {
    try {
      await rmdir(dir);
    } catch {
      return; // not empty (another build's), or gone
    }
  }
}
