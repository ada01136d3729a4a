/**
 * ensureBuildRoot: the build root a spec asks for, reused from the cache when a sound one is there,
 * else made with mmdebstrap (cache.ts has the layout and what "sound" means).
 *
 * Freshness: a build root, once made for a request (arch, suite, apt sources, packages), is reused
 * as it is, without asking the mirror, until `compat buildroot build --refresh` (refresh: true)
 * finds that the mirror's suites have a newer verified Release date and makes a new one. A build
 * root is the environment a layer is built in, so it changes only when someone asks: a Debian
 * point release published overnight must not change the compiler a bootstrap uses between two
 * builds of the same spec. The build record names the identity, so which one a layer was built in
 * stays known; the layer's own packages do not come from it.
 *
 * Making: the host preflight, the verified Release date of the suites (SOURCE_DATE_EPOCH, as the
 * debian flavor derives it), `mmdebstrap --simulate` (a package Debian does not have is named
 * before anything is downloaded), mmdebstrap into `tmp/`, the identity from the tree's dpkg
 * status, the identity file, then one rename into `<arch>/<identity>`. One process makes a given
 * request at a time (a pid lock per request key); the others wait and reuse what it made.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { checkDebianPackages, runMmdebstrap } from "../debian/mmdebstrap.js";
import { suitesReleaseDate } from "../debian/release-date.js";
import { type AptSource, debianSources, readHostAptSources } from "../debian/sources.js";
import { readDpkgStatus } from "../debian/status.js";
import { InputError, ToolError } from "../errors.js";
import { diskUsage } from "../exec/disk.js";
import { unmountUnder } from "../exec/mounts.js";
import type { Arch } from "../layer/id.js";
import { PidLock } from "../pipeline/lock.js";
import type { DebianSettings } from "../spec/schema.js";
import { BuildRootCache, ENTRY_FILE, type EntryRecord, ROOT_DIR, touchStamp, VERIFIED } from "./cache.js";
import { BUILD_ROOT_FORMAT, buildRootIdentity, buildRootPackages, requestKey } from "./identity.js";
import { buildHostPreflight } from "./preflight.js";
import type { BuildRoot, BuildRootSpec, EnsureBuildRootOptions } from "./types.js";
import { verifyTree } from "./verify.js";

/**
 * A build root's SOURCE_DATE_EPOCH is always its suites' newest verified Release date (no spec
 * field or variable replaces it, so its identity follows the mirror): the hint when there is none.
 */
export const BUILD_ROOT_EPOCH_FIX =
  "make the build root's mirror serve a signed dists/<suite>/InRelease (buildRoot.mirror, or the build host's apt sources when buildRoot.mirror is left out): a build root always takes its SOURCE_DATE_EPOCH from it";

/** How long a process waits for another that makes the same build root (mmdebstrap of a large one under qemu). */
const MAKE_WAIT_MS = 2 * 60 * 60_000;
/** How long the cache's short lock may be held by another. */
const CACHE_WAIT_MS = 2 * 60_000;

/** mmdebstrap's settings for a build root: minbase (essential + apt) and the packages, main only. */
export function mmdebstrapSettings(spec: BuildRootSpec): DebianSettings {
  return {
    suite: spec.suite,
    ...(spec.mirror ? { mirror: spec.mirror } : {}),
    components: ["main"],
    variant: "minbase",
    packages: spec.packages,
    requiredSpace: "1 GB",
  };
}

async function hostSourcesFor(spec: BuildRootSpec): Promise<AptSource[]> {
  return spec.mirror ? [] : readHostAptSources();
}

export async function ensureBuildRoot(spec: BuildRootSpec, opts: EnsureBuildRootOptions): Promise<BuildRoot> {
  const { arch } = opts;
  const note = opts.note ?? (() => {});
  const cache = new BuildRootCache(opts.stateDir);
  await cache.open();
  const settings = mmdebstrapSettings(spec);
  const hostSources = await hostSourcesFor(spec);
  const key = requestKey({
    arch,
    spec,
    sources: debianSources({ ...settings, suite: spec.suite }, hostSources),
  });

  if (!opts.refresh) {
    const cached = await reuse(cache, key, spec, arch, note, opts.signal, opts.verify);
    if (cached) return cached;
  }
  const lock = await waitForLock(
    cache.lockFile(key),
    `making the ${arch} build root ${spec.suite} (${spec.packages.length} packages)`,
    MAKE_WAIT_MS,
    note,
    opts.signal,
  );
  try {
    // another process may have made it while this one waited
    if (!opts.refresh) {
      const cached = await reuse(cache, key, spec, arch, note, opts.signal, opts.verify);
      if (cached) return cached;
    }
    // a killed maker of this request left its tree (its lock is ours now)
    for (const leftover of await leftovers(cache, key)) {
      await unmountUnder(leftover);
      await cache.discard(leftover);
    }
    note(`${arch} programs run ${await buildHostPreflight(arch)}`);
    const release = await suitesReleaseDate({
      settings,
      arch,
      hostSources,
      epochFix: BUILD_ROOT_EPOCH_FIX,
      ...(opts.log ? { logTo: opts.log } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (opts.refresh) {
      const known = await cache.readRequest(key);
      if (known && known.sourceDateEpoch === release.epoch) {
        const cached = await reuse(cache, key, spec, arch, note, opts.signal, opts.verify);
        if (cached) {
          note(`the mirror's suites have not changed since it was made (${release.from})`);
          return cached;
        }
      }
    }
    note(`apt resolves ${spec.packages.length} package(s) of ${spec.suite} for ${arch}`);
    await checkDebianPackages({
      settings,
      arch,
      hostSources,
      packagesField: "buildRoot.packages",
      ...(opts.log ? { logTo: opts.log } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return await make(cache, { spec, settings, hostSources, key, arch, epoch: release.epoch, opts, note });
  } finally {
    await lock.release();
  }
}

/** Stop using a build root (prune may then remove it); a process that ends stops using it anyway. */
export async function releaseBuildRoot(root: Pick<BuildRoot, "identity">, stateDir: string): Promise<void> {
  await new BuildRootCache(stateDir).releaseUse(root.identity);
}

/** The cached root of this request when it is sound; a damaged one is removed (and made again by the caller). */
export async function reuse(
  cache: BuildRootCache,
  key: string,
  spec: BuildRootSpec,
  arch: Arch,
  note: (m: string) => void,
  signal?: AbortSignal,
  verify = false,
): Promise<BuildRoot | undefined> {
  const request = await cache.readRequest(key);
  if (!request || request.arch !== arch) return undefined;
  const lock = await waitForLock(
    cache.lockFile("cache"),
    "a change to the build-root cache",
    CACHE_WAIT_MS,
    note,
    signal,
  );
  try {
    const entry = await cache.readEntry(arch, request.identity);
    if (entry === "absent") {
      await cache.removeRequest(key);
      return undefined;
    }
    if ("problem" in entry) {
      note(
        `the cached build root ${request.identity.slice(0, 12)} is damaged (${entry.problem}): removed, making it again`,
      );
      await cache.discard(cache.entryDir(arch, request.identity), request.identity);
      await cache.removeRequest(key);
      return undefined;
    }
    const mismatch =
      requestMismatch(spec, entry) ??
      ((await cache.answers(entry, key))
        ? undefined
        : "was made for another request (the index entry was not written by compat for this one)");
    if (mismatch) {
      // a request file is an index, not a proof: one that points at another root is dropped
      note(
        `the cache's index points at build root ${entry.identity.slice(0, 12)}, which ${mismatch}: not used`,
      );
      await cache.removeRequest(key);
      return undefined;
    }
    if (verify || !(await cache.verified(arch, entry.identity))) {
      note(
        `checking the files of build root ${entry.identity.slice(0, 12)} against its packages (dpkg --verify)`,
      );
      await verifyTree(join(cache.entryDir(arch, entry.identity), ROOT_DIR), signal);
      await cache.markVerified(arch, entry.identity);
    }
    await cache.markUse(arch, entry.identity);
    return toBuildRoot(cache, entry, false);
  } finally {
    await lock.release();
  }
}

/** Why a sound entry is not what the spec asks for (another suite or mirror, a package it lacks). */
function requestMismatch(spec: BuildRootSpec, entry: EntryRecord): string | undefined {
  if (entry.suite !== spec.suite) return `is of ${entry.suite}, not ${spec.suite}`;
  if ((entry.mirror ?? "") !== (spec.mirror ?? "")) return `was made from another mirror`;
  const installed = new Set(entry.packages.map((p) => p.name));
  const missing = spec.packages.filter((p) => !installed.has(p));
  if (missing.length) return `lacks ${missing.slice(0, 5).join(", ")}`;
  return undefined;
}

function toBuildRoot(cache: BuildRootCache, r: EntryRecord, made: boolean): BuildRoot {
  return {
    dir: join(cache.entryDir(r.arch, r.identity), ROOT_DIR),
    identity: r.identity,
    arch: r.arch,
    suite: r.suite,
    packages: r.packages,
    ...(r.mirror ? { mirror: r.mirror } : {}),
    createdAt: r.createdAt,
    sourceDateEpoch: r.sourceDateEpoch,
    made,
  };
}

async function leftovers(cache: BuildRootCache, key: string): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  const dir = join(cache.base, "tmp");
  return (await readdir(dir)).filter((n) => n.startsWith(`${key}-`)).map((n) => join(dir, n));
}

async function make(
  cache: BuildRootCache,
  m: {
    spec: BuildRootSpec;
    settings: DebianSettings;
    hostSources: AptSource[];
    key: string;
    arch: Arch;
    epoch: number;
    opts: EnsureBuildRootOptions;
    note: (message: string) => void;
  },
): Promise<BuildRoot> {
  const { arch } = m;
  const tmp = cache.tmpDir(m.key);
  const root = join(tmp, ROOT_DIR);
  await cache.discard(tmp);
  const { mkdir, writeFile } = await import("node:fs/promises");
  await mkdir(tmp, { mode: 0o755 });
  try {
    m.note(`mmdebstrap ${m.spec.suite} minbase + ${m.spec.packages.length} packages for ${arch}`);
    const r = await runMmdebstrap({
      settings: m.settings,
      sourceDateEpoch: m.epoch,
      arch,
      targetDir: root,
      hostSources: m.hostSources,
      nssPackages: [],
      packagesField: "buildRoot.packages",
      ...(m.opts.log ? { logTo: m.opts.log } : {}),
      ...(m.opts.signal ? { signal: m.opts.signal } : {}),
    });
    const packages = buildRootPackages((await readDpkgStatus(root)).packages);
    if (packages.length === 0)
      throw new ToolError(`mmdebstrap left no installed package in ${root}`, {
        command: r.command,
        exitStatus: 0,
      });
    const identity = buildRootIdentity({ arch, suite: m.spec.suite, packages });
    const record: EntryRecord = {
      format: BUILD_ROOT_FORMAT,
      identity,
      arch,
      suite: m.spec.suite,
      ...(m.spec.mirror ? { mirror: m.spec.mirror } : {}),
      packages,
      createdAt: new Date().toISOString(),
      sourceDateEpoch: m.epoch,
      requestKey: m.key,
      sizeBytes: diskUsage(root),
      command: r.command,
    };
    // just made from its packages: its files are theirs
    await touchStamp(join(tmp, VERIFIED));
    // last: a tree without it is not a build root
    await writeFile(join(tmp, ENTRY_FILE), `${JSON.stringify(record, null, 2)}\n`, { flag: "wx" });
    const lock = await waitForLock(
      cache.lockFile("cache"),
      "a change to the build-root cache",
      CACHE_WAIT_MS,
      m.note,
      m.opts.signal,
    );
    try {
      const dest = cache.entryDir(arch, identity);
      const existing = await cache.readEntry(arch, identity);
      let kept = record;
      if (existing !== "absent" && !("problem" in existing)) {
        // the same packages were made for another request (or before a refresh): one copy is enough
        kept = existing;
        await cache.discard(tmp);
        await cache.markAnswers(arch, identity, m.key);
      } else {
        if (existing !== "absent") await cache.discard(dest, identity);
        const { rename } = await import("node:fs/promises");
        await rename(tmp, dest);
      }
      await cache.writeRequest(m.key, {
        identity,
        arch,
        sourceDateEpoch: m.epoch,
        at: new Date().toISOString(),
      });
      await cache.markUse(arch, identity);
      m.note(`made build root ${identity.slice(0, 12)}: ${packages.length} packages`);
      return toBuildRoot(cache, kept, true);
    } finally {
      await lock.release();
    }
  } catch (e) {
    await unmountUnder(root).catch(() => []);
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Take a pid lock, waiting while a live process holds it (a dead holder's lock is taken over by
 * PidLock); gives up after `timeoutMs` naming the holder.
 */
export async function waitForLock(
  file: string,
  what: string,
  timeoutMs: number,
  note: (m: string) => void,
  signal?: AbortSignal,
): Promise<PidLock> {
  const until = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      return await PidLock.acquire(file, what);
    } catch (e) {
      if (!(e instanceof InputError) || Date.now() > until) throw e;
      if (!told) note(`waiting: ${e.message}`);
      told = true;
    }
    signal?.throwIfAborted();
    await new Promise((r) => setTimeout(r, 200));
  }
}
