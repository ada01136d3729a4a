/**
 * What a change of a published cvmfs layer is, planned before its transaction opens: the layer as
 * it is (listed on its host, indexed: layer-state.ts), the verified artifact, and from both what is
 * written, deleted and undone (change-plan.ts), the tree the layer gets, and — for a full artifact
 * replacing a layer — the entries that differ, kept (spooled) during the one verification pass
 * over the artifact (tar-spool.ts), so only they are extracted and the artifact is read once.
 */
import { randomUUID } from "node:crypto";
import { createReadStream, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { applyDeltaToIndex, entryDiffers } from "../artifacts/delta.js";
import {
  contentIndex,
  type EntryIndex,
  type IndexEntry,
  type IndexEntryType,
  treeSha256,
} from "../artifacts/entry-index.js";
import type { ArtifactManifest } from "../artifacts/manifest.js";
import { TarSpool } from "../artifacts/tar-spool.js";
import { ValidationError } from "../errors.js";
import type { CommandHost } from "../exec/host.js";
import { type StreamingProcess, writeWithBackpressure } from "../exec/stream.js";
import { log } from "../log.js";
import { planReplacement, planUndo, type UndoPlan } from "./change-plan.js";
import type { CvmfsServer } from "./cvmfs-server.js";
import type { HistoryEvent, NewHistoryEvent } from "./history.js";
import { deltaLayerViolations, type LayerListing, layerAncestors, listLayer } from "./layer-guard.js";
import { liveIndex, readStoredTree, storedTreePath } from "./layer-state.js";
import { type PublishRequest, preVerify, rejection, type VerifiedArtifact } from "./publisher.js";

/** A change of one layer, ready to be applied in a transaction. */
export interface Change {
  action: "publish" | "rollback";
  layer: string;
  /** What is extracted (a rollback: the undo archive). */
  req: PublishRequest;
  verified: VerifiedArtifact;
  /** A full artifact onto an existing layer: the file holding only the entries that differ (tar-spool.ts). */
  spool?: string;
  /** A full replacement's deletions (a delta's come from its manifest). */
  deletions: string[];
  /** The layer's tree after the change, and its sha256. */
  resultIndex: EntryIndex;
  resultTree: string;
  /** The layer's tree before it; undefined when the layer does not exist. */
  liveTree?: string;
  undoPlan: UndoPlan | null;
  event: NewHistoryEvent;
  message: string;
  written: number;
  deleted: number;
}

/** The published layer as it is: its listing, its index, its tree's sha256. */
export interface LiveLayer {
  listing: LayerListing;
  index: EntryIndex;
  tree: string;
}

export type PlannedChange = Omit<Change, "action" | "event" | "message">;

/** Stream a spool (a private, complete tar of the entries to write) into the extractor. */
export async function extractSpool(
  path: string,
  extractor: StreamingProcess,
  signal?: AbortSignal,
): Promise<void> {
  // An interrupt stops the extractor (the transaction is then aborted).
  const stop = () => extractor.kill("SIGKILL");
  signal?.addEventListener("abort", stop, { once: true });
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      const wait = writeWithBackpressure(extractor.stdin, chunk);
      if (wait) await wait;
    }
    extractor.stdin.end();
  } catch (e) {
    // The extractor died (disk full, remote gone): its own error says why.
    extractor.kill("SIGKILL");
    await extractor.done.catch(() => {});
    throw e;
  } finally {
    signal?.removeEventListener("abort", stop);
  }
  await extractor.done;
}

/** What a listing of the layer would give, from the kept index of a layer unchanged since compat published it. */
function listingOf(index: EntryIndex): LayerListing {
  const listing: LayerListing = { entries: new Map(), symlinks: new Map(), nonRegular: new Map() };
  for (const [rel, e] of index) {
    const type = e.type === "directory" ? "d" : e.type === "symlink" ? "l" : "f";
    listing.entries.set(rel, {
      type,
      mode: e.mode,
      size: e.size,
      mtime: e.mtime ?? 0,
      target: e.type === "symlink" ? e.digest : "",
    });
    if (rel === "" || type === "f") continue;
    listing.nonRegular.set(rel, type === "d" ? "directory" : "symlink");
    if (type === "l") listing.symlinks.set(rel, e.digest);
  }
  return listing;
}

export interface PlannerContext {
  host: CommandHost;
  server: CvmfsServer;
  repository: string;
  stateDir: string;
  layerPath(layer: string): { path: string; versions: string };
}

export class ChangePlanner {
  constructor(private readonly c: PlannerContext) {}

  /**
   * Verify the artifact (fully, before anything changes) and list the layer, overlapping the two.
   * A full artifact onto an existing layer is verified in one pass that also keeps (spools) the
   * entries that differ from the layer: compared with the kept index of what compat published
   * there while the layer is listed (then checked against the listing: a layer changed out of band
   * has the artifact read again for what differs now), or, without one, with the listed layer.
   */
  async verifyAndList(
    req: PublishRequest,
    unverified: ArtifactManifest,
    exists: boolean,
    current: HistoryEvent | undefined,
  ): Promise<{ verified: VerifiedArtifact; live?: LiveLayer; spool?: TarSpool }> {
    const layer = unverified.topDir;
    if (!(exists && unverified.kind === "full")) {
      const verifying = preVerify(req, unverified);
      verifying.catch(() => {}); // awaited below, after the listing has started
      const listing = exists ? this.live(layer, current) : undefined;
      listing?.catch(() => {});
      return { verified: await verifying, live: await listing };
    }
    const kept = this.keptTree(layer, current);
    const listing = kept ? this.live(layer, current) : undefined;
    listing?.catch(() => {});
    let live = listing ? undefined : await this.live(layer, current);
    let spool = this.spoolFor(layer, kept ?? live!.index);
    try {
      let verified = await preVerify(req, unverified, spool);
      live ??= await listing;
      const plan = planReplacement(live!.index, verified.index);
      const spooled = this.spooled(layer, spool);
      if ([...plan.include].some((p) => !spooled.has(p))) {
        log.info(
          `${this.c.layerPath(layer).path} was changed since compat published it: reading ${unverified.artifact} again`,
        );
        rmSync(spool.path, { force: true });
        spool = this.spoolFor(layer, plan.include);
        verified = await preVerify(req, unverified, spool);
      }
      return { verified, live, spool };
    } catch (e) {
      rmSync(spool.path, { force: true });
      throw e;
    }
  }

  /**
   * A spool for a full artifact replacing `layer`: it keeps each member that differs from the tree
   * indexed as `from` (entryDiffers, as the plan compares them: hard links as the files they are),
   * or, given `names`, the members at those paths.
   */
  spoolFor(layer: string, from: EntryIndex | Set<string>): TarSpool {
    const before = from instanceof Set ? undefined : contentIndex(from, { keepMarkers: true });
    const digests = new Map<string, string>();
    const rel = (name: string) =>
      name === layer ? "" : name.startsWith(`${layer}/`) ? name.slice(layer.length + 1) : undefined;
    const dir = join(this.c.stateDir, "spool");
    mkdirSync(dir, { recursive: true });
    return new TarSpool(join(dir, `${this.c.repository}-${randomUUID()}.tar`), (m) => {
      const path = rel(m.name);
      if (path === undefined) return false;
      if (!before) return (from as Set<string>).has(path);
      let entry: IndexEntry;
      if (m.typeflag === "5") entry = { type: "directory", mode: m.mode, size: 0, digest: "" };
      else if (m.typeflag === "2") entry = { type: "symlink", mode: m.mode, size: 0, digest: m.linkname };
      else if (m.typeflag === "1")
        entry = { type: "file", mode: m.mode, size: 0, digest: digests.get(rel(m.linkname) ?? "") ?? "" };
      else {
        entry = { type: "file", mode: m.mode, size: m.size, digest: m.sha256 ?? "" };
        digests.set(path, entry.digest);
      }
      return entryDiffers(before.get(path), entry);
    });
  }

  /** The kept index of the tree compat last published at `layer`, when it is the history's current one. */
  keptTree(layer: string, current: HistoryEvent | undefined): EntryIndex | undefined {
    const kept = readStoredTree(storedTreePath(this.c.stateDir, this.c.repository, layer));
    return kept && current?.treeSha256 === kept.treeSha256 ? kept.index : undefined;
  }

  /**
   * Whether the layer is still the tree compat last published there: its kept index is the
   * history's current tree and nothing in or above it changed since that revision (catalogs only).
   */
  async untouched(layer: string, current: HistoryEvent | undefined): Promise<boolean> {
    const tag = current?.tag;
    return this.keptTree(layer, current) !== undefined && !!tag && (await this.unchangedSince(tag, layer));
  }

  /** The published layer as it is: listed on its host, indexed (kept sha256s where the quick check holds). */
  async live(layer: string, current: HistoryEvent | undefined): Promise<LiveLayer> {
    const { path, versions } = this.c.layerPath(layer);
    const usable = this.keptTree(layer, current);
    if (usable && (await this.untouched(layer, current)))
      return { listing: listingOf(usable), index: usable, tree: current!.treeSha256! };
    const listing = await listLayer(this.c.host, path, layerAncestors(versions, layer));
    const { index, hashed } = await liveIndex(this.c.host, path, listing, usable);
    if (hashed > 0)
      log.info(
        usable
          ? `${path}: ${hashed} file(s) changed since compat published it were hashed on ${this.c.host.description}`
          : `${path}: no kept index of this layer; hashed its ${hashed} file(s) on ${this.c.host.description}`,
      );
    return { listing, index, tree: treeSha256(index) };
  }

  /**
   * Whether nothing in the layer, and no directory above it, changed in the repository since the
   * revision `tag` compat published it in: `cvmfs_server diff` from the tag to trunk, which reads
   * the catalogs only (and skips the layer's own nested catalog when its hash is the same). Any
   * doubt (no such tag, a diff that fails) is a no: the layer is then listed.
   */
  private async unchangedSince(tag: string, layer: string): Promise<boolean> {
    let stdout: string;
    try {
      ({ stdout } = await this.c.server.call(["diff", "-m", "-s", tag, "-d", "trunk", this.c.repository]));
    } catch (e) {
      log.debug(`cvmfs_server diff from ${tag}: ${(e as Error).message}; listing the layer instead`);
      return false;
    }
    const own = `/versions/${layer}`;
    const above = new Set(["/versions", ...layerAncestors("/versions", layer)]);
    for (const line of stdout.split("\n")) {
      const [change, type, path] = line.trim().split(/\s+/);
      if (!change || change === "S" || !path) continue;
      if (path === own || path.startsWith(`${own}/`)) return false;
      // A directory above the layer whose metadata changed (a sibling published) is no matter; anything else is.
      if (above.has(path) && !(change.startsWith("M") && type === "D")) return false;
    }
    return true;
  }

  /** Plan a delta (a published one, or a rollback's undo archive) onto the published layer. */
  planDelta(req: PublishRequest, verified: VerifiedArtifact, live: LiveLayer): PlannedChange {
    const m = verified.manifest;
    const delta = m.delta!;
    const { path } = this.c.layerPath(m.topDir);
    const violations = deltaLayerViolations(m, verified.deltaMembers, live.listing);
    if (violations.length > 0) throw rejection(`${m.artifact} onto ${path}`, violations);
    if (delta.base.treeSha256 !== undefined && delta.base.treeSha256 !== live.tree)
      throw new ValidationError(
        `${m.artifact} applies to the tree of ${delta.base.artifact}, but the layer at ${path} is not that tree (changed behind compat's back?); nothing was published`,
        {
          details: [`layer's tree: ${live.tree}`, `delta base:   ${delta.base.treeSha256}`],
          hint: "publish the full artifact instead",
        },
      );
    const resultIndex = contentIndex(
      applyDeltaToIndex(live.index, delta.deletions, verified.index, delta.patches),
    );
    const resultTree = treeSha256(resultIndex);
    if (delta.treeSha256 !== undefined && delta.treeSha256 !== resultTree)
      throw new ValidationError(
        `${m.artifact}: applied to the published layer it would give tree ${resultTree}, but its manifest says ${delta.treeSha256}; nothing was published`,
      );
    const writes = new Map<string, IndexEntryType>();
    for (const [rel, e] of verified.index) writes.set(rel, e.type);
    for (const p of delta.patches) writes.set(p.path, "file");
    return {
      layer: m.topDir,
      req,
      verified,
      deletions: [],
      resultIndex,
      resultTree,
      liveTree: live.tree,
      undoPlan: planUndo(live.index, { writes, deletions: delta.deletions }),
      written: writes.size,
      deleted: delta.deletions.length,
    };
  }

  /** Plan a full artifact: everything for a new layer, only what differs for an existing one. */
  planFull(
    req: PublishRequest,
    verified: VerifiedArtifact,
    live: LiveLayer | undefined,
    spool: TarSpool | undefined,
  ): PlannedChange {
    const m = verified.manifest;
    const target = verified.index;
    const resultTree = treeSha256(target);
    const base = { layer: m.topDir, req, verified, resultTree };
    if (!live)
      return {
        ...base,
        deletions: [],
        resultIndex: contentIndex(target),
        undoPlan: null,
        written: target.size,
        deleted: 0,
      };
    const { path } = this.c.layerPath(m.topDir);
    const plan = planReplacement(live.index, target);
    // What the spool kept as the artifact passed: what the plan writes (and, when compared with the
    // kept index, entries an out-of-band change made equal again: written anyway, and undone).
    const kept = this.spooled(m.topDir, spool!);
    if (spool!.problem || [...plan.include].some((rel) => !kept.has(rel)))
      throw new Error(
        `internal: the spool of ${m.artifact} (${kept.size} entries${spool!.problem ? `; ${spool!.problem}` : ""}) lacks entries of the plan's ${plan.include.size}`,
      );
    // The plan's deletions go first, so a member where the layer has a symlink of a changed type is no way out.
    const asDelta = {
      ...m,
      delta: { base: { artifact: "", sha256: "0".repeat(64) }, deletions: plan.deletions, patches: [] },
    } as ArtifactManifest;
    const members = [...kept].map((p) => ({ path: p }));
    const violations = deltaLayerViolations(asDelta, members, live.listing);
    if (violations.length > 0) throw rejection(`${m.artifact} onto ${path}`, violations);
    // Entries the change does not write keep the layer's mtimes (the quick check of the next change).
    const resultIndex = contentIndex(target);
    for (const [rel, e] of resultIndex) {
      const before = live.index.get(rel);
      if (!kept.has(rel) && before?.mtime !== undefined) resultIndex.set(rel, { ...e, mtime: before.mtime });
    }
    const writes = new Map<string, IndexEntryType>();
    for (const rel of kept) writes.set(rel, target.get(rel)!.type);
    log.info(`${path}: ${kept.size} of ${target.size} entries differ, ${plan.deletions.length} to delete`);
    return {
      ...base,
      spool: spool!.path,
      deletions: plan.deletions,
      resultIndex,
      liveTree: live.tree,
      undoPlan: planUndo(live.index, { writes, deletions: plan.deletions }),
      written: kept.size,
      deleted: plan.deletions.length,
    };
  }

  /** The paths (relative to the layer) a spool kept. */
  spooled(layer: string, spool: TarSpool): Set<string> {
    return new Set(spool.kept.map((n) => (n === layer ? "" : n.slice(layer.length + 1))));
  }
}
