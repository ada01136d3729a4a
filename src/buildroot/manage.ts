/**
 * What `compat buildroot list` and `compat buildroot prune` do with the cache (cache.ts).
 *
 *   await listBuildRoots(stateDir)                          // every entry, sound or not, newest use first
 *   await pruneBuildRoots(stateDir, { keep: 2, dryRun })    // remove all but the 2 last used (per arch)
 *
 * Prune never removes a root a live process uses (cache.ts's use marks), and it works under the
 * cache lock, so a build cannot pick a root up while prune removes it. Damaged entries, leftovers
 * of killed creations (tmp/ without a live maker) and request files whose root is gone go too.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { diskUsage } from "../exec/disk.js";
import type { Arch } from "../layer/id.js";
import { liveLockHolder } from "../pipeline/lock.js";
import { BuildRootCache } from "./cache.js";
import { waitForLock } from "./ensure.js";

export interface BuildRootListing {
  arch: Arch;
  identity: string;
  dir: string;
  /** Sound (its identity holds) or why not. */
  state: "ok" | "damaged";
  problem?: string;
  suite?: string;
  packages?: number;
  sizeBytes: number;
  createdAt?: string;
  lastUsedAt?: string;
  /** Pids of live processes using it. */
  users: number[];
}

export async function listBuildRoots(stateDir: string): Promise<BuildRootListing[]> {
  const cache = new BuildRootCache(stateDir);
  await cache.open();
  const out: BuildRootListing[] = [];
  for (const { arch, identity } of await cache.entries()) {
    const entry = await cache.readEntry(arch, identity);
    const dir = cache.entryDir(arch, identity);
    const users = await cache.liveUsers(identity);
    const lastUsed = await cache.lastUsed(arch, identity);
    if (entry === "absent") continue;
    if ("problem" in entry) {
      out.push({
        arch,
        identity,
        dir,
        state: "damaged",
        problem: entry.problem,
        sizeBytes: diskUsage(dir),
        users,
      });
      continue;
    }
    out.push({
      arch,
      identity,
      dir,
      state: "ok",
      suite: entry.suite,
      packages: entry.packages.length,
      sizeBytes: entry.sizeBytes,
      createdAt: entry.createdAt,
      ...(lastUsed ? { lastUsedAt: lastUsed.toISOString() } : {}),
      users,
    });
  }
  const when = (l: BuildRootListing) => l.lastUsedAt ?? l.createdAt ?? "";
  return out.sort((a, b) => (when(a) < when(b) ? 1 : when(a) > when(b) ? -1 : 0));
}

export interface PruneOptions {
  /** Keep the N last used roots of each arch. */
  keep?: number;
  /** Remove roots not used for more than this many days. */
  olderThanDays?: number;
  dryRun?: boolean;
  now?: Date;
}

export interface PruneResult {
  removed: Array<BuildRootListing & { why: string }>;
  /** Roots prune would have removed but a live process uses. */
  inUse: BuildRootListing[];
  kept: BuildRootListing[];
  /** Leftovers of killed creations and request files without their root. */
  leftovers: string[];
  freedBytes: number;
}

export async function pruneBuildRoots(stateDir: string, o: PruneOptions): Promise<PruneResult> {
  const cache = new BuildRootCache(stateDir);
  await cache.open();
  const lock = await waitForLock(
    cache.lockFile("cache"),
    "a change to the build-root cache",
    120_000,
    () => {},
  );
  try {
    const all = await listBuildRoots(stateDir);
    const now = (o.now ?? new Date()).getTime();
    const result: PruneResult = { removed: [], inUse: [], kept: [], leftovers: [], freedBytes: 0 };
    const rank = new Map<Arch, number>();
    for (const l of all) {
      let why: string | undefined;
      if (l.state === "damaged") why = `damaged: ${l.problem}`;
      else {
        const n = (rank.get(l.arch) ?? 0) + 1;
        rank.set(l.arch, n);
        const used = Date.parse(l.lastUsedAt ?? l.createdAt ?? "");
        if (o.keep !== undefined && n > o.keep) why = `not among the ${o.keep} last used of ${l.arch}`;
        else if (o.olderThanDays !== undefined && now - used > o.olderThanDays * 86_400_000)
          why = `not used for more than ${o.olderThanDays} days`;
      }
      if (!why) result.kept.push(l);
      else if (l.users.length > 0) result.inUse.push(l);
      else {
        result.removed.push({ ...l, why });
        result.freedBytes += l.sizeBytes;
        if (!o.dryRun) await cache.discard(l.dir, l.identity);
      }
    }
    // a creation whose maker is gone (no live holder of its request's lock)
    for (const name of await readdir(join(cache.base, "tmp")).catch(() => [] as string[])) {
      const key = name.replace(/-\d+$/, "");
      if (liveLockHolder(cache.lockFile(key)) !== undefined) continue;
      result.leftovers.push(join(cache.base, "tmp", name));
      if (!o.dryRun) await cache.discard(join(cache.base, "tmp", name));
    }
    for (const { key, record } of await cache.requests()) {
      const gone =
        !record ||
        (await lstat(cache.entryDir(record.arch, record.identity)).catch(() => undefined)) === undefined ||
        result.removed.some((r) => r.identity === record.identity);
      if (!gone) continue;
      result.leftovers.push(cache.requestFile(key));
      if (!o.dryRun) await cache.removeRequest(key);
    }
    if (!o.dryRun) await cache.emptyTrash();
    return result;
  } finally {
    await lock.release();
  }
}
