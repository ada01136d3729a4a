/**
 * `compat prune`: what builds, packs and publishes left behind and nothing uses any more, found
 * and (unless it is a dry run) removed. Only what is provably abandoned is taken:
 *
 *   build    `.build-<run id>/` beside a layer, when no live process holds the run's lock or the
 *            layer's build lock for that run (a failed or killed build; keeping it is what
 *            `--resume` needs, so pruning it ends that run)
 *   run      `runs/<run id>/` of no live build: the newest `keepRuns` are kept (their logs), and
 *            so is one whose build directory is still there (it can be resumed); a run that
 *            never finished goes with its pruned build directory
 *   partial  `.<name>.partial-<pid>`, `.<name>.fifo-<pid>` and `.delta-work-<pid>-…/` in an
 *            artifact directory, when process <pid> is gone (a killed pack)
 *   backup   kept layers `.<arch>-NNN` beyond the newest `keepBackups` of a layer (only when
 *            asked), never the one a rollback would restore, never while the layer is being
 *            built, and in a publish repository only under its lock
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { partialOwner } from "../artifacts/partial.js";
import { diskUsage } from "../exec/disk.js";
import { unmountUnder } from "../exec/mounts.js";
import { pidAlive } from "../exec/pid.js";
import { nameProblem, relativePathProblem } from "../paths/rules.js";
import { readHistory } from "../publish/history.js";
import { acquireLock } from "../publish/lock.js";
import { parseKeptLayerName } from "../publish/publisher.js";
import { liveLockHolder } from "./lock.js";
import type { RunPlan, RunResultRecord } from "./run-dir.js";

export type PruneKind = "build" | "run" | "partial" | "backup";

export interface PruneItem {
  kind: PruneKind;
  path: string;
  /** Disk space it occupies (as du counts it). */
  bytes: number;
  /** Why it is abandoned, in words. */
  reason: string;
}

export interface PruneOptions {
  /** Local repository roots (build roots, `local:` publish repositories). */
  roots: string[];
  /** Run directories' parent (`runs`). */
  runsDir: string;
  /** Directories packs wrote into (`artifacts`). */
  artifactDirs: string[];
  /** Keep this many of the newest runs. */
  keepRuns: number;
  /** Keep this many kept layers per layer; undefined: kept layers are not pruned. */
  keepBackups?: number;
}

const RUN_ID = /^\d{8}-\d{6}-[a-z0-9_]+-[0-9a-f]{4}$/;
const BUILD_DIR = /^\.build-(.+)$/;

const dirEntries = (dir: string): string[] => {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
};
const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** The directories holding layers of a repository root: `versions/<v>/compat/<os>/`. */
function layerParents(root: string): string[] {
  const versions = join(root, "versions");
  return dirEntries(versions).flatMap((v) =>
    dirEntries(join(versions, v, "compat"))
      .map((os) => join(versions, v, "compat", os))
      .filter(isDir),
  );
}

/** The live build (its lock's description) of run `runId`, if any: by the run's lock or a layer's build lock. */
function liveBuildOf(runId: string, layerParent: string, runsDir: string): string | undefined {
  const runLock = liveLockHolder(join(runsDir, runId, "lock"));
  if (runLock) return runLock;
  for (const name of dirEntries(layerParent))
    if (name.endsWith(".build-lock")) {
      const what = liveLockHolder(join(layerParent, name));
      if (what?.includes(`(run ${runId})`)) return what;
    }
  return undefined;
}

/** Whether some live process is building a layer in `layerParent` of this arch. */
function layerBeingBuilt(layerParent: string, arch: string): boolean {
  return liveLockHolder(join(layerParent, `.${arch}.build-lock`)) !== undefined;
}

function findBuildDirs(o: PruneOptions, items: PruneItem[]): Set<string> {
  const pruned = new Set<string>();
  for (const root of o.roots)
    for (const parent of layerParents(root))
      for (const name of dirEntries(parent)) {
        const runId = BUILD_DIR.exec(name)?.[1];
        const path = join(parent, name);
        if (!runId || !isDir(path) || liveBuildOf(runId, parent, o.runsDir)) continue;
        items.push({
          kind: "build",
          path,
          bytes: diskUsage(path),
          reason: `no process is building run ${runId} (a failed, killed or refused build)`,
        });
        pruned.add(path);
      }
  return pruned;
}

function findRuns(o: PruneOptions, prunedBuilds: Set<string>, items: PruneItem[]): void {
  const runs = dirEntries(o.runsDir)
    .filter((id) => RUN_ID.test(id) && isDir(join(o.runsDir, id)))
    .reverse(); // newest first: run ids begin with their start time
  runs.forEach((id, i) => {
    const dir = join(o.runsDir, id);
    if (liveLockHolder(join(dir, "lock"))) return;
    const plan = readJson<Partial<RunPlan>>(join(dir, "plan.json"));
    const result = readJson<RunResultRecord>(join(dir, "result.json"));
    const workDir = plan?.workDir;
    const buildGoes = workDir !== undefined && prunedBuilds.has(workDir);
    // resumable: its build directory stays
    if (workDir && existsSync(workDir) && !buildGoes) return;
    let reason: string | undefined;
    if (buildGoes && result?.status !== "success" && result?.status !== "failed")
      reason = "a build that never finished, whose build directory goes too";
    else if (i >= o.keepRuns) reason = `older than the newest ${o.keepRuns} runs`;
    if (reason) items.push({ kind: "run", path: dir, bytes: diskUsage(dir), reason });
  });
}

function findPartials(o: PruneOptions, items: PruneItem[]): void {
  for (const dir of o.artifactDirs)
    for (const name of dirEntries(dir)) {
      const owner = partialOwner(name);
      if (!owner || pidAlive(owner.pid)) continue;
      const path = join(dir, name);
      items.push({
        kind: "partial",
        path,
        bytes: diskUsage(path),
        reason: `${owner.of}, left by process ${owner.pid}, which is gone (a killed pack)`,
      });
    }
}

/** The kept layers (`.<arch>-NNN`) a rollback of each layer of `root` would restore (its history's latest event). */
function rollbackTargets(root: string): Set<string> | undefined {
  const state = join(root, ".compat");
  if (!existsSync(join(state, "history.db"))) return new Set();
  try {
    const events = readHistory(state, `local:${root}`);
    const latest = new Map(events.map((e) => [e.layer, e]));
    return new Set(
      [...latest.values()].flatMap((e) =>
        e.backup && !nameProblem(e.backup) && !relativePathProblem(e.layer)
          ? [join(root, "versions", e.layer.replace(/[^/]+$/, ""), e.backup)]
          : [],
      ),
    );
  } catch {
    return undefined; // a history that cannot be read: what a rollback needs is not known
  }
}

function findBackups(o: PruneOptions, keep: number, items: PruneItem[], notes: string[]): void {
  for (const root of o.roots) {
    const needed = rollbackTargets(root);
    if (!needed) {
      notes.push(`${root}: its history cannot be read, so no kept layer of it is pruned`);
      continue;
    }
    for (const parent of layerParents(root)) {
      const byArch = new Map<string, { name: string; n: number }[]>();
      for (const name of dirEntries(parent)) {
        const kept = parseKeptLayerName(name);
        if (!kept || !isDir(join(parent, name))) continue;
        byArch.set(kept.arch, [...(byArch.get(kept.arch) ?? []), { name, n: kept.n }]);
      }
      for (const [arch, kept] of byArch) {
        if (layerBeingBuilt(parent, arch)) {
          notes.push(`${join(parent, arch)} is being built: its kept layers are left alone`);
          continue;
        }
        kept.sort((a, b) => b.n - a.n);
        for (const k of kept.slice(keep).reverse()) {
          const path = join(parent, k.name);
          if (needed.has(path)) continue;
          items.push({
            kind: "backup",
            path,
            bytes: diskUsage(path),
            reason: `a kept layer of ${arch} older than the newest ${keep}`,
          });
        }
      }
    }
  }
}

export interface PrunePlan {
  items: PruneItem[];
  totalBytes: number;
  /** What was left alone on purpose and why. */
  notes: string[];
}

/** What can go, with sizes; nothing is removed. */
export function findPrunable(o: PruneOptions): PrunePlan {
  const items: PruneItem[] = [];
  const notes: string[] = [];
  const builds = findBuildDirs(o, items);
  findRuns(o, builds, items);
  findPartials(o, items);
  if (o.keepBackups !== undefined) findBackups(o, o.keepBackups, items, notes);
  return { items, totalBytes: items.reduce((n, i) => n + i.bytes, 0), notes };
}

/** The repository root a kept layer `.../versions/<v>/compat/<os>/.<arch>-NNN` belongs to. */
const rootOfLayerParent = (path: string) => join(path, "../../../..");

/** Whether an item found earlier is still abandoned (nothing started using it since). */
function stillAbandoned(item: PruneItem, runsDir: string): boolean {
  const name = basename(item.path);
  const parent = join(item.path, "..");
  switch (item.kind) {
    case "build":
      return !liveBuildOf(BUILD_DIR.exec(name)![1]!, parent, runsDir);
    case "run":
      return !liveLockHolder(join(item.path, "lock"));
    case "partial":
      return !pidAlive(partialOwner(name)!.pid);
    case "backup":
      return !layerBeingBuilt(parent, parseKeptLayerName(name)!.arch);
  }
}

/** Remove what `findPrunable` found, checking each item again right before; returns what was removed. */
export async function removePrunable(plan: PrunePlan, runsDir: string): Promise<PruneItem[]> {
  const removed: PruneItem[] = [];
  for (const item of plan.items) {
    if (!existsSync(item.path)) continue;
    if (!stillAbandoned(item, runsDir)) continue;
    const remove = async () => {
      if (item.kind === "build") await unmountUnder(item.path);
      await rm(item.path, { recursive: true, force: true, maxRetries: 3 });
    };
    const state = join(rootOfLayerParent(join(item.path, "..")), ".compat");
    if (item.kind === "backup" && existsSync(state)) {
      // a publish repository: its kept layers change only under its lock
      const lock = acquireLock(join(state, "lock"), `compat prune ${item.path}`);
      try {
        await remove();
      } finally {
        lock.release();
      }
    } else await remove();
    removed.push(item);
  }
  return removed;
}
