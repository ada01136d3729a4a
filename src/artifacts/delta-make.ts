/**
 * Making a delta against a full artifact: the new tree is indexed, then the base artifact is read
 * once (verified and indexed) while the base content of every file that may be patched is kept in
 * a scratch dir; the plan says what changed; each patchable file gets a `zstd --patch-from` patch,
 * and travels as that patch only when it is smaller than the file compressed on its own and than
 * its share of the whole changed files compressed together (keepSmallestMix). Patches
 * are ordinary tar members under `<top>/.compat-delta/`, described in the manifest.
 */
import { closeSync, createReadStream, lstatSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { InputError } from "../errors.js";
import { requireTool, run } from "../exec/run.js";
import { spawnStreaming, writeWithBackpressure } from "../exec/stream.js";
import type { LayerId } from "../layer/id.js";
import { log } from "../log.js";
import { type DeltaPlan, MIN_PATCH_BYTES, PATCH_DIR, planDelta, versionlessPath } from "./delta.js";
import { type ContentSink, type EntryIndex, indexArtifact, indexTree, treeSha256 } from "./entry-index.js";
import type { ArtifactManifest, DeltaPatch } from "./manifest.js";
import { parseArtifactName } from "./name.js";
import { deltaWorkPrefix } from "./partial.js";
import type { TarWriter } from "./tar-writer.js";

/** Base content up to this size is held in memory until its digest says whether it changed. */
const BUFFER_LIMIT = 16 << 20;
/** zstd's --patch-from needs the whole base in its window (≤ 2 GiB); past this the file ships whole. */
const MAX_PATCH_BYTES = 1 << 30;

/** A delta of the layer `{stack, version, os, arch}` at `prefix` against the full artifact `deltaFrom`. */
export interface DeltaRequest extends LayerId {
  prefix: string;
  /** The full artifact the delta applies to. */
  deltaFrom: string;
  /** The scratch dir for base files and patches is made in here (the output directory). */
  workDir: string;
  /** Every member's mtime is clamped to it. */
  epoch: number;
  /** Ship changed files whole (no patches), e.g. for a stratum 0 without zstd ≥ 1.4.5. */
  noPatches?: boolean;
}

export interface PreparedDelta {
  /** Entries of the new tree that go into the archive (patched files do not). */
  include: (rel: string) => boolean;
  delta: NonNullable<ArtifactManifest["delta"]>;
  /** Write the patch members after the tree's; returns what it added. */
  appendPatches: (tar: TarWriter, topDir: string) => Promise<{ files: number; contentBytes: number }>;
  /** Remove the scratch dir. */
  cleanup: () => Promise<void>;
}

/**
 * Keeps base files that may be patched: one the new tree has at the same path, kept only when its
 * content differs; one the new tree does not have but whose versionless path a new file has.
 */
class BaseKeeper {
  readonly kept = new Map<string, string>();
  private next = 0;

  constructor(
    private readonly dir: string,
    private readonly newIndex: EntryIndex,
    private readonly renameKeys: Set<string>,
  ) {}

  sink(rel: string, size: number): ContentSink | undefined {
    if (size < MIN_PATCH_BYTES || size > MAX_PATCH_BYTES) return undefined;
    const n = this.newIndex.get(rel);
    const samePath = n?.type === "file";
    if (!samePath && (n || !this.renameKeys.has(versionlessPath(rel)))) return undefined;
    const file = join(this.dir, `base-${++this.next}`);
    // A file of another size differs for sure: straight to disk. Else held until its digest is known.
    const direct = !samePath || n.size !== size || size > BUFFER_LIMIT;
    let fd = direct ? openSync(file, "w", 0o600) : undefined;
    const held: Buffer[] = [];
    return {
      write: (chunk) => {
        if (fd !== undefined) writeSync(fd, chunk);
        else held.push(Buffer.from(chunk));
      },
      end: async (digest) => {
        if (samePath && digest === n.digest) {
          if (fd !== undefined) {
            closeSync(fd);
            await rm(file, { force: true });
          }
          return;
        }
        if (fd === undefined) {
          fd = openSync(file, "w", 0o600);
          for (const c of held) writeSync(fd, c);
        }
        closeSync(fd);
        this.kept.set(rel, file);
      },
    };
  }
}

async function compressedSize(file: string, out: string, args: string[]): Promise<number> {
  await run("zstd", ["-q", "-f", ...args, "-o", out, "--", file]);
  return (await stat(out)).size;
}

/** Run `fn` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface MadePatch {
  patch: DeltaPatch;
  file: string;
  /** The new file, its patch's bytes, and the patch's share of the file compressed on its own. */
  abs: string;
  bytes: number;
  ratio: number;
}

/** Bytes of `files` compressed one after the other as the delta's own stream is (zstd -3 -T0). */
async function solidSize(files: string[]): Promise<number> {
  if (files.length === 0) return 0;
  const zstd = spawnStreaming("zstd", ["-q", "-3", "-T0", "-c"]);
  let bytes = 0;
  zstd.stdout.on("data", (c: Buffer) => {
    bytes += c.length;
  });
  const feeding = (async () => {
    for (const f of files)
      for await (const chunk of createReadStream(f) as AsyncIterable<Buffer>)
        await writeWithBackpressure(zstd.stdin, chunk);
    zstd.stdin.end();
  })();
  await Promise.all([feeding, zstd.done]);
  return bytes;
}

/**
 * Which patches to keep: the per-file choice compares a patch with its file compressed alone, but
 * in the delta's stream whole files also compress against each other (a package's binaries share
 * code). So the patched set is tried whole as well, in part (the weaker patches) and in full, and
 * the smallest mix wins.
 */
async function keepSmallestMix(made: MadePatch[]): Promise<MadePatch[]> {
  let best = { cost: Number.POSITIVE_INFINITY, keep: made };
  for (const threshold of [Number.POSITIVE_INFINITY, 0.6, 0.3, 0]) {
    const keep = made.filter((m) => m.ratio < threshold);
    const whole = made.filter((m) => m.ratio >= threshold);
    const cost = keep.reduce((s, m) => s + m.bytes, 0) + (await solidSize(whole.map((m) => m.abs)));
    if (cost < best.cost) best = { cost, keep };
  }
  return best.keep;
}

/** Patch every candidate whose base was kept; keep the patches smaller than the file alone. */
async function makePatches(
  plan: DeltaPlan,
  prefix: string,
  newIndex: EntryIndex,
  oldIndex: EntryIndex,
  kept: Map<string, string>,
  dir: string,
  epoch: number,
): Promise<MadePatch[]> {
  const candidates = plan.patchable.filter(
    (c) => kept.has(c.from) && newIndex.get(c.path)!.size <= MAX_PATCH_BYTES,
  );
  if (candidates.length === 0) return [];
  await requireTool("zstd");
  const made: (MadePatch | undefined)[] = [];
  await pool(candidates, availableParallelism(), async (c, i) => {
    const abs = join(prefix, c.path);
    const base = kept.get(c.from)!;
    const n = newIndex.get(c.path)!;
    const o = oldIndex.get(c.from)!;
    // Level 19 finds the long matches a patch lives on; past 32 MiB it costs more than it gains.
    const level = n.size + o.size > 32 << 20 ? "-15" : "-19";
    const file = join(dir, `patch-${i}`);
    const patchBytes = await compressedSize(abs, file, [level, "--single-thread", `--patch-from=${base}`]);
    const wholeFile = join(dir, `whole-${i}`);
    const wholeBytes = await compressedSize(abs, wholeFile, ["-3"]);
    await rm(wholeFile, { force: true });
    if (patchBytes >= wholeBytes) {
      await rm(file, { force: true });
      return;
    }
    const st = lstatSync(abs);
    made[i] = {
      file,
      abs,
      bytes: patchBytes,
      ratio: patchBytes / wholeBytes,
      patch: {
        path: c.path,
        from: c.from,
        member: "",
        method: "zstd-patch-from",
        baseSha256: o.digest,
        baseSize: o.size,
        sha256: n.digest,
        size: n.size,
        mode: st.mode & 0o7777,
        mtime: Math.min(Math.floor(st.mtimeMs / 1000), epoch),
      },
    };
  });
  const patches = await keepSmallestMix(made.filter((m): m is MadePatch => m !== undefined));
  patches.forEach((m, i) => {
    m.patch.member = `${PATCH_DIR}/${String(i + 1).padStart(6, "0")}`;
  });
  return patches;
}

export async function prepareDelta(req: DeltaRequest): Promise<PreparedDelta> {
  const baseName = req.deltaFrom.split("/").pop()!;
  const base = parseArtifactName(baseName);
  if (base.kind !== "full")
    throw new InputError(`--delta-from ${req.deltaFrom}: a delta must be made against a full artifact`);
  for (const k of ["stack", "version", "os", "arch"] as const)
    if (base[k] !== req[k])
      throw new InputError(
        `--delta-from ${req.deltaFrom}: its ${k} is ${base[k]}, this layer's is ${req[k]}`,
      );

  log.info(`indexing ${req.prefix} and ${baseName} for the delta`);
  const newIndex = indexTree(req.prefix);
  if (newIndex.has(PATCH_DIR))
    throw new InputError(`${join(req.prefix, PATCH_DIR)}: this name is reserved for a delta's patches`, {
      hint: "remove or rename it in the layer",
    });
  const dir = await mkdtemp(deltaWorkPrefix(req.workDir));
  try {
    const renameKeys = new Set<string>();
    for (const [rel, e] of newIndex) if (e.type === "file") renameKeys.add(versionlessPath(rel));
    const keeper = new BaseKeeper(dir, newIndex, renameKeys);
    const { index: oldIndex, report } = await indexArtifact(req.deltaFrom, {
      contentSink: req.noPatches ? undefined : (rel, size) => keeper.sink(rel, size),
    });
    const plan = planDelta(oldIndex, newIndex);
    const made = req.noPatches
      ? []
      : await makePatches(plan, req.prefix, newIndex, oldIndex, keeper.kept, dir, req.epoch);
    const patched = new Set(made.map((m) => m.patch.path));
    log.info(
      `delta: ${plan.include.size} entries changed or added (${made.length} as patches), ${plan.deletions.length} deleted`,
    );
    return {
      include: (rel) => plan.include.has(rel) && !patched.has(rel),
      delta: {
        base: { artifact: baseName, sha256: report.sha256!, treeSha256: treeSha256(oldIndex) },
        treeSha256: treeSha256(newIndex),
        deletions: plan.deletions,
        patches: made.map((m) => m.patch),
      },
      appendPatches: async (tar, topDir) => {
        if (made.length === 0) return { files: 0, contentBytes: 0 };
        await tar.addHeader({
          name: `${topDir}/${PATCH_DIR}/`,
          type: "directory",
          mode: 0o755,
          size: 0,
          mtime: req.epoch,
        });
        let contentBytes = 0;
        for (const m of made)
          contentBytes += await tar.addFile(
            { name: `${topDir}/${m.patch.member}`, mode: 0o644, mtime: req.epoch },
            m.file,
          );
        return { files: made.length, contentBytes };
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
