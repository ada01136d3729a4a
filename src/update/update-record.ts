/**
 * What `compat update` keeps about one update in the store (the `detail` of its run, kind
 * "update"): the request, the target it updates, where its tree and artifacts are, and how far it
 * got. The candidate links to it by its run id, so gates and resumes find the request again.
 */
import { basename, dirname, join } from "node:path";
import { InputError, ValidationError } from "../errors.js";
import type { Arch } from "../layer/id.js";
import { layerStateDir, type SiteConfig } from "../site/load.js";
import type { JsonValue } from "../store/json.js";
import { getRun, type RunRecord } from "../store/runs.js";
import type { Store } from "../store/store.js";

export interface UpdateRequest {
  /** The packages the update is for (gentoo atoms, debian package names); undefined: all (`--all`). */
  packages?: string[];
  reason?: string;
}

export interface UpdateRecord extends UpdateRequest {
  /** The site target the candidate updates (its base). */
  target: string;
  /** The full artifact whose tree the target held when the update started; null for a first build. */
  baseSha256: string | null;
  /** The update's directory under the state dir: its local repository root and scratch space. */
  dir: string;
  /** The build's run id (its run directory under `<state>/runs/`). */
  buildRunId: string | null;
  /** What the update found out and did, as it went. */
  phase: "building" | "built" | "unchanged" | "packed" | "gated";
}

/** Where update `runId` of a layer and arch works: `<state>/candidates/<layer>/<arch>/update-<run>`. */
export function updateDir(site: SiteConfig, layer: string, arch: Arch, runId: number): string {
  return join(layerStateDir(site, "candidates", layer, arch), `update-${runId}`);
}

/** The local repository root an update builds its tree in. */
export const updateRoot = (dir: string) => join(dir, "root");

export function toDetail(r: UpdateRecord): JsonValue {
  return {
    target: r.target,
    baseSha256: r.baseSha256,
    packages: r.packages ?? null,
    reason: r.reason ?? null,
    dir: r.dir,
    buildRunId: r.buildRunId,
    phase: r.phase,
  };
}

/**
 * The update record of a run. Its directory and build run id become paths: they must be an update
 * directory of this layer and arch under the state dir and one plain name, else it is refused.
 */
export function fromRun(run: RunRecord, site: SiteConfig): UpdateRecord {
  const d = (run.detail ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof d[k] === "string" ? (d[k] as string) : undefined);
  const target = str("target");
  const dir = str("dir");
  if (run.kind !== "update" || !target || !dir || !run.layer || !run.arch)
    throw new InputError(`run ${run.id} of the store is not an update (${run.kind})`);
  const where = layerStateDir(site, "candidates", run.layer, run.arch as Arch);
  const buildRunId = str("buildRunId");
  if (
    dirname(dir) !== where ||
    !/^update-[0-9]+$/.test(basename(dir)) ||
    (buildRunId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(buildRunId))
  )
    throw new ValidationError(
      `run ${run.id} of the store names ${JSON.stringify(dir)} and build run ${JSON.stringify(buildRunId ?? null)}: not an update directory under ${where}`,
      { hint: "the store's record was edited: compat uses nothing it names" },
    );
  return {
    target,
    dir,
    baseSha256: str("baseSha256") ?? null,
    buildRunId: buildRunId ?? null,
    phase: (str("phase") as UpdateRecord["phase"]) ?? "building",
    ...(Array.isArray(d.packages) ? { packages: d.packages.filter((p) => typeof p === "string") } : {}),
    ...(str("reason") ? { reason: str("reason") } : {}),
  };
}

/** The update record of a candidate's run. */
export async function updateOfRun(
  store: Store,
  site: SiteConfig,
  runId: number | null,
): Promise<UpdateRecord> {
  const run = runId === null ? undefined : await getRun(store, runId);
  if (!run) throw new InputError(`the store has no update run ${runId ?? "(none)"}`);
  return fromRun(run, site);
}
