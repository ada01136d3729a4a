/**
 * `compat update LAYER --arch A`: build a candidate from the layer a target holds, gate it.
 *
 *   lease update:<layer>:<arch> (a second update of the same layer waits or is refused)
 *   → the base: what the target holds (its full artifact, hashed again), or nothing (a first build)
 *   → the flavor's update mode, run like a build into <state>/candidates/<layer>/<arch>/update-<run>/
 *   → the package diff against the base; nothing changed (and the same spec): "nothing to update"
 *   → full artifact + delta against the base (<state>/artifacts/…), recorded in the store
 *   → the candidate (building → gating), its gates, then ready or failed
 *
 * The published layers are never written: the build has a root of its own and the base is only
 * read. Killed at any moment, the update leaves its run `running` (the next command finds it
 * interrupted) and its candidate, if it got one, `building` or `gating` (then failed): never
 * `ready`. `--resume` continues the build of the newest interrupted update that has no candidate
 * yet; a candidate that exists has its gates run again with `compat gate`.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { PackageDiff } from "../artifacts/diff.js";
import { InputError } from "../errors.js";
import { getFlavor } from "../flavors/index.js";
import { type BuildOutcome, buildLayer } from "../pipeline/build.js";
import type { ProgressReporter } from "../pipeline/progress.js";
import { RunDir } from "../pipeline/run-dir.js";
import { type SiteConfig, type SiteTarget, siteTarget, statePaths } from "../site/load.js";
import { localPrefix } from "../spec/resolve.js";
import { currentUser } from "../store/actor.js";
import type { ArtifactRecord } from "../store/artifacts.js";
import {
  type Candidate,
  createCandidate,
  setCandidateBuild,
  transitionCandidate,
} from "../store/candidates.js";
import type { GateResult } from "../store/gates.js";
import type { JsonValue } from "../store/json.js";
import { withLease } from "../store/leases.js";
import { finishRun, listRuns, type RunRecord, setRunDetail, startRun } from "../store/runs.js";
import type { Store } from "../store/store.js";
import { assertArtifactUnchanged } from "./artifact-files.js";
import {
  candidatePackageDiff,
  packagesChanged,
  packCandidate,
  updateArtifactsDir,
} from "./candidate-artifacts.js";
import { candidateContext } from "./candidate-context.js";
import { runGates } from "./gates/run.js";
import type { Gate } from "./gates/types.js";
import { reapInterruptedUpdates } from "./interrupted.js";
import { ScratchRepository } from "./scratch-repo.js";
import { openSiteLayerArch, registerSiteLayer, type SiteLayerArch } from "./site-layer.js";
import { type HeldLayer, heldLayer, publisherOf } from "./targets.js";
import { fromRun, toDetail, type UpdateRecord, updateDir, updateRoot } from "./update-record.js";

export interface UpdateOptions {
  layer: string;
  arch?: string;
  /** The target whose layer is updated (default: the site config's first target). */
  from?: string;
  packages?: string[];
  reason?: string;
  /** Continue the newest interrupted update of this layer and arch. */
  resume?: boolean;
  /** How long to wait for another update of the same layer to finish (default: refuse at once). */
  waitMs?: number;
  signal?: AbortSignal;
  /** Build progress (stages); closed when the build ends. */
  reporter: ProgressReporter;
  /** One line per step after the build (packing, each gate). */
  onStep?: (message: string) => void;
  onGateStart?: (gate: Gate) => void;
  onGateEnd?: (gate: Gate, result: GateResult) => void;
}

interface Common {
  layer: string;
  arch: string;
  target: string;
  run: number;
  base: { sha256: string; artifact: string } | null;
  buildRunId: string | null;
  durationMs: { total: number; build: number };
  /** Peak resident memory of this process (MB), external tools aside. */
  peakRssMb: number;
}

export type UpdateOutcome =
  | (Common & { unchanged: true; message: string })
  | (Common & {
      unchanged: false;
      candidate: Candidate;
      full: ArtifactRecord;
      delta: ArtifactRecord | undefined;
      packageDiff: PackageDiff;
      gates: GateResult[];
      durationMs: Common["durationMs"] & { pack: number; gates: number };
    });

/** The target an update starts from: `--from`, else the first target of the site config. */
export function baseTarget(site: SiteConfig, from: string | undefined): SiteTarget {
  if (from !== undefined) return siteTarget(site, from);
  const first = Object.values(site.targets)[0];
  if (!first)
    throw new InputError(
      `the site config ${site.file ?? "(the embedded default)"} has no targets: an update updates a layer published on one`,
      {
        hint: "add targets (e.g. staging: {to: local:/srv/staging}) to compat.yaml (docs/site-config.md)",
      },
    );
  return first;
}

export async function runUpdate(site: SiteConfig, store: Store, o: UpdateOptions): Promise<UpdateOutcome> {
  const started = Date.now();
  const actor = currentUser();
  await reapInterruptedUpdates(store);
  const l = await openSiteLayerArch(site, o.layer, o.arch);
  const target = baseTarget(site, o.from);
  const flavor = getFlavor(l.spec.spec.flavor);
  // the flavor refuses packages it cannot take, before anything is built (the base is filled in below)
  flavor.api.update(l.layer, { packages: o.packages, base: placeholderBase });
  const step = (m: string) => o.onStep?.(m);
  return withLease(
    store,
    `update:${l.name}:${l.arch}`,
    { purpose: `compat update ${l.name} --arch ${l.arch}`, waitMs: o.waitMs },
    async () => {
      await registerSiteLayer(store, site, l, actor);
      const held = await heldLayer(store, target, publisherOf(target), l.topDir);
      if (held)
        assertArtifactUnchanged(
          held.tree,
          `the published layer ${target.name} holds, which the update starts from`,
        );
      const prior = o.resume ? await resumable(site, store, l, target, held) : undefined;
      const run = await startRun(store, { kind: "update", layer: l.name, arch: l.arch });
      const record: UpdateRecord = {
        target: target.name,
        baseSha256: held?.tree.sha256 ?? null,
        packages: o.packages,
        reason: o.reason,
        dir: prior?.dir ?? updateDir(site, l.name, l.arch, run.id),
        buildRunId: prior?.buildRunId ?? null,
        phase: "building",
      };
      const save = (patch: Partial<UpdateRecord>) => {
        Object.assign(record, patch);
        return setRunDetail(store, run.id, toDetail(record));
      };
      await save({});
      const base = held
        ? { sha256: held.tree.sha256, artifact: held.tree.path.split("/").at(-1) ?? held.tree.path }
        : null;
      let candidate: Candidate | undefined;
      try {
        const buildStarted = Date.now();
        const outcome = await buildCandidateTree(site, l, record, held, o, (id) => save({ buildRunId: id }));
        const buildMs = Date.now() - buildStarted;
        await save({ phase: "built" });
        const prefixDir = localPrefix(l.layer, updateRoot(record.dir));
        const packageDiff = await candidatePackageDiff(
          prefixDir,
          held?.tree.manifest as unknown as Parameters<typeof candidatePackageDiff>[1],
        );
        const common: Common = {
          layer: l.name,
          arch: l.arch,
          target: target.name,
          run: run.id,
          base,
          buildRunId: record.buildRunId,
          durationMs: { total: 0, build: buildMs },
          peakRssMb: 0,
        };
        const baseSpecHash = (held?.tree.manifest as { specHash?: string | null } | undefined)?.specHash;
        if (held && !packagesChanged(packageDiff) && baseSpecHash === l.spec.hash) {
          await save({ phase: "unchanged" });
          await finishRun(store, run.id, { state: "succeeded", exitCode: 0, detail: toDetail(record) });
          await rm(record.dir, { recursive: true, force: true });
          void outcome;
          return {
            ...common,
            unchanged: true,
            message: `nothing to update: the rebuilt layer has the same ${packageDiff.unchanged} packages and the same spec as what ${target.name} holds`,
            durationMs: { total: Date.now() - started, build: buildMs },
            peakRssMb: peakRssMb(),
          };
        }
        const packStarted = Date.now();
        const artifacts = await packCandidate(
          store,
          l,
          prefixDir,
          updateArtifactsDir(site, l, run.id),
          held?.tree,
          step,
        );
        const packMs = Date.now() - packStarted;
        await save({ phase: "packed" });
        candidate = await createCandidate(store, {
          layer: l.name,
          arch: l.arch,
          target: target.name,
          ...(held ? { basePublicationId: held.publication.id, baseSha256: held.tree.sha256 } : {}),
          reason: o.reason,
          requestedBy: actor,
          runId: run.id,
        });
        candidate = await setCandidateBuild(store, candidate.id, {
          fullSha256: artifacts.full.sha256,
          deltaSha256: artifacts.delta?.sha256,
          packageDiff: packageDiff as unknown as JsonValue,
          actor,
        });
        candidate = await transitionCandidate(store, candidate.id, "gating", { actor });
        const gatesStarted = Date.now();
        const gated = await runGates(site, store, await candidateContext(site, store, candidate.id), {
          actor,
          runId: run.id,
          signal: o.signal,
          onStart: o.onGateStart,
          onEnd: o.onGateEnd,
          onNote: (g, m) => step(`${g.id}: ${m}`),
        });
        candidate = gated.candidate;
        await save({ phase: "gated" });
        await finishRun(store, run.id, { state: "succeeded", exitCode: 0, detail: toDetail(record) });
        return {
          ...common,
          unchanged: false,
          candidate,
          full: artifacts.full,
          delta: artifacts.delta,
          packageDiff,
          gates: gated.gates,
          peakRssMb: peakRssMb(),
          durationMs: {
            total: Date.now() - started,
            build: buildMs,
            pack: packMs,
            gates: Date.now() - gatesStarted,
          },
        };
      } catch (e) {
        const interrupted = o.signal?.aborted === true;
        await finishRun(store, run.id, {
          state: interrupted ? "interrupted" : "failed",
          detail: { ...(toDetail(record) as Record<string, JsonValue>), error: (e as Error).message },
        }).catch(() => {});
        if (candidate && (candidate.state === "building" || candidate.state === "gating"))
          await transitionCandidate(store, candidate.id, "failed", {
            actor,
            reason: interrupted ? "the update was interrupted" : (e as Error).message,
          }).catch(() => {});
        throw e;
      }
    },
  );
}

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** Stands in for the base while the flavor checks the packages it is given (nothing is unpacked). */
const placeholderBase = {
  artifact: "",
  sha256: "",
  unpack: () => Promise.reject(new Error("not unpacked while planning")),
};

/** Build (or resume the build of) the candidate's tree with the flavor's update mode. */
async function buildCandidateTree(
  site: SiteConfig,
  l: SiteLayerArch,
  record: UpdateRecord,
  held: HeldLayer | undefined,
  o: UpdateOptions,
  onBuildRun: (id: string) => Promise<void>,
): Promise<BuildOutcome | undefined> {
  const runsDir = statePaths(site).runs;
  if (record.buildRunId) {
    const result = RunDir.open(runsDir, record.buildRunId).readResult();
    if (result?.status === "success") {
      o.reporter.close();
      return undefined;
    }
  }
  const flavor = getFlavor(l.spec.spec.flavor);
  const base = held
    ? {
        artifact: held.tree.path,
        sha256: held.tree.sha256,
        unpack: async (dir: string, signal?: AbortSignal) => {
          const repo = new ScratchRepository(dir);
          await repo.publish(held.tree.path, held.tree.sha256, signal);
          return repo.layerPath(l.topDir);
        },
      }
    : undefined;
  let saving: Promise<void> = Promise.resolve();
  const reporter: ProgressReporter = {
    emit(e) {
      if (e.event === "build-start" && e.runId !== record.buildRunId) saving = onBuildRun(e.runId);
      o.reporter.emit(e);
    },
    close: () => o.reporter.close(),
  };
  const outcome = await buildLayer({
    specFile: l.specFile,
    arch: l.arch,
    root: updateRoot(record.dir),
    runsDir,
    resume: record.buildRunId ?? undefined,
    reporter,
    signal: o.signal,
    stages: (layer) => flavor.api.update(layer, { packages: record.packages, base }),
    resumeHint: () =>
      `compat update ${l.name} --arch ${l.arch} --resume${site.file ? ` --config ${site.file}` : ""}`,
  });
  await saving;
  return outcome;
}

/** The newest interrupted or failed update of this layer and arch that can be continued. */
async function resumable(
  site: SiteConfig,
  store: Store,
  l: SiteLayerArch,
  target: SiteTarget,
  held: HeldLayer | undefined,
): Promise<UpdateRecord> {
  const runs = (await listRuns(store, { layer: l.name, arch: l.arch, limit: 50 })).filter(
    (r) => r.kind === "update",
  );
  const last: RunRecord | undefined = runs[0];
  const none = (why: string) =>
    new InputError(`nothing to resume for ${l.name} ${l.arch}: ${why}`, {
      hint: `start a new update: compat update ${l.name} --arch ${l.arch}`,
    });
  if (!last) throw none("it was never updated");
  if (last.state === "running" || last.state === "succeeded")
    throw none(`its last update (run ${last.id}) ${last.state === "running" ? "is running" : "finished"}`);
  const record = fromRun(last, site);
  if (record.phase === "packed" || record.phase === "gated")
    throw none(
      `its last update (run ${last.id}) already made a candidate: run its gates again with compat gate`,
    );
  if (record.target !== target.name)
    throw none(`its last update (run ${last.id}) updated ${record.target}, not ${target.name}`);
  if (record.baseSha256 !== (held?.tree.sha256 ?? null))
    throw none(`${target.name} holds another layer now than when run ${last.id} started`);
  return record;
}

/** The path of the build's run directory of an update, for messages. */
export function buildRunDir(site: SiteConfig, record: UpdateRecord): string | undefined {
  return record.buildRunId ? join(statePaths(site).runs, record.buildRunId) : undefined;
}
