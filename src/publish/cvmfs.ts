/**
 * `cvmfs:REPO[@HOST]`: publishing with cvmfs_server on a stratum 0 (or a publisher), locally or
 * over ssh, as measured against CernVM-FS 2.12 (DESIGN.md "Publishing"). Every change of a layer
 * is one revision of one transaction, in proportion to what changes:
 *
 *   undo archive           the layer's own entries the change touches, kept in the state dir (undo.ts)
 *   transaction REPO       exit 17: a transaction is open; compat's own, killed one is recovered
 *                          (cvmfs-journal.ts), anyone else's is never joined
 *   rm, tar -x, patches    a full artifact: only the entries that differ from the layer (change-plan.ts,
 *                          the verified stream filtered to them); a delta: its deletions, members, patches
 *   .cvmfscatalog          the layer is always its own nested catalog
 *   publish -a TAG -m MSG  one named revision per change, recorded in the history
 *   abort -f REPO          after any failure once the transaction is open (22 = none open)
 *
 * Moving the old layer aside (as EESSI does) is not a rename on overlayfs (EXDEV: a copy of every
 * file, all hashed again at publish); `--keep-copy` keeps one as `.<arch>-NNN` with a template
 * transaction (`transaction -T`), a copy of catalog entries only. A rollback publishes the last
 * change's undo archive the same way. `ingest` is used only when asked, only for a layer that does
 * not exist yet, and never with `--delete` (which crashes cvmfs 2.12 together with `--base_dir`);
 * a transaction after it makes the layer's nested catalog (ingest ignores `.cvmfsdirtab`).
 */

import { randomUUID } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, posix } from "node:path";
import { applyDeltaToIndex, entryDiffers } from "../artifacts/delta.js";
import {
  contentIndex,
  type EntryIndex,
  type IndexEntry,
  type IndexEntryType,
  treeSha256,
} from "../artifacts/entry-index.js";
import { type ArtifactManifest, readManifest } from "../artifacts/manifest.js";
import { type StreamingProcess, writeWithBackpressure } from "../artifacts/process.js";
import { TarSpool } from "../artifacts/tar-spool.js";
import { InputError, isCompatError, ToolError, ValidationError } from "../errors.js";
import { commandLine, processesWithEnv, processStart } from "../exec/processes.js";
import { log } from "../log.js";
import { planReplacement, planUndo, type UndoPlan } from "./change-plan.js";
import { assess, type JournalEntry, PublishJournal } from "./cvmfs-journal.js";
import { CvmfsServer, type HostProcess } from "./cvmfs-server.js";
import { cvmfsTagName } from "./cvmfs-text.js";
import { checkPatchTool, deleteBeforeExtracting, deletePaths, patchAfterExtracting } from "./delta-apply.js";
import {
  type History,
  type HistoryEvent,
  type NewHistoryEvent,
  readHistory,
  withLockedHistory,
} from "./history.js";
import type { CommandHost } from "./host.js";
import {
  deltaLayerViolations,
  type LayerListing,
  layerAncestors,
  listLayer,
  requireLayerDirectory,
} from "./layer-guard.js";
import { liveIndex, readStoredTree, storedTreePath, writeStoredTree } from "./layer-state.js";
import {
  checkDeltaBase,
  extractVerified,
  layerParts,
  nextBackupName,
  type Publisher,
  type PublishRequest,
  type PublishResult,
  preVerify,
  publishManifest,
  type RollbackResult,
  rejection,
  restoredEvent,
  rollbackEvent,
  type VerifiedArtifact,
} from "./publisher.js";
import { makeUndo, pruneUndo, undoDir } from "./undo.js";

export { CVMFS_STATUS } from "./cvmfs-server.js";

export interface CvmfsPublisherOptions {
  repository: string;
  host: CommandHost;
  hostName?: string;
  stateDir: string;
  cvmfsRoot: string;
  /** Publish a layer that does not exist yet with `cvmfs_server ingest`. */
  ingest: boolean;
  /** Keep the layer a change replaces as `.<arch>-NNN` (a template transaction). */
  keepCopy?: boolean;
  /** Where cvmfs_server keeps each repository's server.conf (default /etc/cvmfs/repositories.d). */
  configDir?: string;
}

/** Every program a publish starts carries its journal id, so a killed publish's programs are found again. */
export const JOURNAL_ENV = "COMPAT_PUBLISH_ID";

/** A change of one layer, ready to be applied in a transaction. */
interface Change {
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
interface LiveLayer {
  listing: LayerListing;
  index: EntryIndex;
  tree: string;
}

type PlannedChange = Omit<Change, "action" | "event" | "message">;

interface Transaction {
  id: string;
  tag: string;
  layer: string;
  command: string;
  event?: NewHistoryEvent;
  tree?: string;
  message: string;
  template?: { from: string; to: string };
  /** Continue this journal entry (after an ingest) instead of beginning one. */
  continues?: boolean;
}

/** Stream a spool (a private, complete tar of the entries to write) into the extractor. */
async function extractSpool(path: string, extractor: StreamingProcess): Promise<void> {
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      const wait = writeWithBackpressure(extractor.stdin, chunk);
      if (wait) await wait;
    }
    extractor.stdin.end();
  } catch (e) {
    // The extractor died (disk full, remote gone): its own error says why.
    extractor.kill("SIGKILL");
    await extractor.done;
    throw e;
  }
  await extractor.done;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function stamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

export class CvmfsPublisher implements Publisher {
  readonly target: string;
  private readonly historyKey: string;
  private readonly server: CvmfsServer;
  private readonly journal: PublishJournal;

  constructor(private readonly o: CvmfsPublisherOptions) {
    this.target = `cvmfs:${o.repository}${o.hostName ? `@${o.hostName}` : ""}`;
    this.historyKey = `cvmfs:${o.repository}`;
    this.server = new CvmfsServer(o.repository, o.host, o.configDir);
    this.journal = new PublishJournal(o.stateDir, o.repository);
  }

  private layerPath(layer: string): { parent: string; arch: string; path: string; versions: string } {
    const { arch } = layerParts(layer);
    const versions = posix.join(this.o.cvmfsRoot, this.o.repository, "versions");
    const path = posix.join(versions, layer);
    return { parent: posix.dirname(path), arch, path, versions };
  }

  private async exists(path: string): Promise<boolean> {
    return (await this.o.host.run(["test", "-e", path], [0, 1])).status === 0;
  }

  private async nextBackup(parent: string, arch: string): Promise<string> {
    const listing = await this.o.host.run(["ls", "-A", "--", parent]);
    return nextBackupName(listing.stdout.split("\n"), arch);
  }

  private storedTree(layer: string): string {
    return storedTreePath(this.o.stateDir, this.o.repository, layer);
  }

  private withLock<T>(
    what: string,
    fn: (history: History, recovered: string | undefined) => Promise<T>,
  ): Promise<T> {
    return withLockedHistory(
      join(this.o.stateDir, "locks", `${this.o.repository}.lock`),
      this.o.stateDir,
      what,
      async (history) => {
        // Spools of publishes that were killed (we hold the lock: no live publish owns one).
        const spools = join(this.o.stateDir, "spool");
        if (existsSync(spools))
          for (const f of readdirSync(spools))
            if (f.startsWith(`${this.o.repository}-`)) rmSync(join(spools, f), { force: true });
        return fn(history, await this.recover(history));
      },
    );
  }

  private tagFor(action: string, layer: string, id: string): string {
    const { version, os, arch } = layerParts(layer);
    return cvmfsTagName(["compat", version, os, arch, action, stamp(), id.slice(0, 8)]);
  }

  // ---- recovery --------------------------------------------------------------------------

  /** Programs of journal entry `id` still running, here and on the publishing host. */
  private async leftovers(id: string): Promise<HostProcess[]> {
    const here = processesWithEnv(JOURNAL_ENV, id).map((pid) => ({
      pid,
      where: "this host",
      command: commandLine(pid),
    }));
    const there = this.o.host.remote ? await this.server.processesWithEnv(JOURNAL_ENV, id) : [];
    return [...here, ...there];
  }

  /**
   * Finish or undo what a killed publish left, when its journal and the repository prove how far
   * it got; refuse (exit 3) and say what to do when they do not. Returns what was done, for the
   * next history event's detail.
   */
  private async recover(history: History): Promise<string | undefined> {
    const e = this.journal.unfinished();
    if (!e) return undefined;
    const ownerAlive =
      e.host !== hostname() ? undefined : e.pid !== process.pid && processStart(e.pid) === e.pidStart;
    const facts = {
      ownerAlive,
      processes: ownerAlive === false ? await this.leftovers(e.id) : [],
      tagExists: ownerAlive === false && e.tag ? await this.server.tagExists(e.tag) : false,
      lock: await this.server.transactionLock(),
      layerExists: e.layer ? await this.exists(this.layerPath(e.layer).path) : undefined,
    };
    const decision = assess(e, facts, this.o.repository, this.o.host.description);
    switch (decision.action) {
      case "refuse":
        throw new ValidationError(decision.why, {
          hint: decision.hint,
          details: [`publish journal: ${this.journal.file}`],
        });
      case "record": {
        this.finish(history, e, `recorded after the fact by compat pid ${process.pid}`);
        log.warn(`recovered: ${decision.why}; recorded it in the history`);
        // Killed after its revision was signed but before it closed the transaction: close it now.
        const left =
          facts.lock && e.lock && facts.lock.inode === e.lock.inode && facts.lock.ctime === e.lock.ctime;
        if (left && (await this.server.abort()) === "aborted")
          log.warn(
            `closed the transaction cvmfs_server left open after publishing ${e.tag} (cvmfs_server abort -f)`,
          );
        return `recovered: ${decision.why} (recorded)`;
      }
      case "record-ingest":
        await this.finishIngest(history, e, decision.why);
        return `recovered: ${decision.why} (recorded, nested catalog made)`;
      case "abort": {
        const r = await this.server.abort();
        this.discard(e, `recovered: aborted by compat pid ${process.pid}`);
        log.warn(
          `recovered: ${decision.why}: ${r === "aborted" ? `aborted it (cvmfs_server abort -f ${this.o.repository})` : "it was gone meanwhile"}; nothing it did was published`,
        );
        if (decision.andThen) await this.finishIngest(history, e, decision.why);
        return `recovered: ${decision.why}; aborted it with cvmfs_server abort -f`;
      }
      case "close":
        this.discard(e, "recovered: nothing left open");
        log.warn(`recovered: ${decision.why}; nothing to undo`);
        return `recovered: ${decision.why}`;
    }
  }

  /** Close a journal entry whose change was not published, and drop what was staged for it. */
  private discard(e: JournalEntry, outcome: string): void {
    if (e.tree) rmSync(e.tree, { force: true });
    if (e.event?.undo) rmSync(dirname(e.event.undo), { recursive: true, force: true });
    this.journal.close(e.id, outcome);
  }

  /** A change was published: record it, keep its tree, keep only its undo, close the journal entry. */
  private finish(
    history: History,
    e: Pick<JournalEntry, "id" | "event" | "tree" | "layer">,
    note?: string,
  ): void {
    if (e.event) {
      const detail = [e.event.detail, note].filter(Boolean).join("; ");
      history.record({ ...e.event, detail: detail || null, journalId: e.id });
      pruneUndo(this.o.stateDir, this.o.repository, e.layer, e.event.undo ?? null);
    }
    if (e.tree && existsSync(e.tree)) renameSync(e.tree, this.storedTree(e.layer));
    this.journal.close(e.id, note ? `published (${note})` : "published");
  }

  /** The refusal for a transaction compat did not open. */
  private foreignTransaction(): ValidationError {
    const where = this.o.host.remote ? ` (on ${this.o.host.remote})` : "";
    return new ValidationError(
      `${this.o.repository} already has an open transaction (cvmfs_server transaction exit 17) that compat did not open: compat never publishes or joins someone else's transaction`,
      {
        details: [`no unfinished transaction in the publish journal ${this.journal.file}`],
        hint: `wait for whoever opened it to finish; if you know it is abandoned, discard it with: cvmfs_server abort -f ${this.o.repository}${where}, then run this again`,
      },
    );
  }

  // ---- transactions ----------------------------------------------------------------------

  /** After a failure inside our transaction: abort -f; true when no transaction is left open. */
  private async abortAfterFailure(): Promise<boolean> {
    try {
      const r = await this.server.abort();
      if (r === "none") log.warn(`cvmfs_server abort -f: no transaction was open on ${this.o.repository}`);
      else log.warn(`aborted the transaction on ${this.o.repository}; the repository is as it was`);
      return true;
    } catch (abortError) {
      log.error(
        `cvmfs_server abort -f ${this.o.repository} failed too: the repository may still be in a transaction; the next compat publish will abort it (${messageOf(abortError)})`,
      );
      return false;
    }
  }

  /** One journaled transaction: open, work, publish with a tag; on any failure abort -f and rethrow. */
  private async transact(t: Transaction, work: (host: CommandHost) => Promise<void>): Promise<void> {
    if (!t.continues)
      this.journal.begin({
        id: t.id,
        repository: this.o.repository,
        publisher: this.o.host.description,
        command: t.command,
        layer: t.layer,
        tag: t.tag,
        step: "opening",
        ...(t.event ? { event: t.event } : {}),
        ...(t.tree ? { tree: t.tree } : {}),
      });
    else this.journal.step(t.id, { step: "opening", tag: t.tag });
    const host = this.o.host.withEnv({ [JOURNAL_ENV]: t.id });
    const server = this.server.on(host);
    let opened: "opened" | "busy";
    try {
      opened = await server.transaction(t.template);
    } catch (e) {
      if (!t.continues) this.journal.close(t.id, `failed: ${messageOf(e)}`);
      throw e;
    }
    if (opened === "busy") {
      if (!t.continues) this.journal.close(t.id, "refused: a transaction was open");
      throw this.foreignTransaction();
    }
    const lock = await this.server.transactionLock();
    this.journal.step(t.id, { step: "open", ...(lock ? { lock } : {}) });
    try {
      await work(host);
      this.journal.step(t.id, { step: "publishing" });
      await server.publish(t.tag, t.message);
    } catch (e) {
      if ((await this.abortAfterFailure()) && !t.continues)
        this.journal.close(t.id, `aborted: ${messageOf(e)}`);
      throw e;
    }
  }

  /** Make the layer its own nested catalog (an empty marker at its top), unless it is already. */
  private async ensureCatalogMarker(host: CommandHost, path: string): Promise<void> {
    await host.run([
      "sh",
      "-c",
      '[ -e "$1/.cvmfscatalog" ] || : > "$1/.cvmfscatalog"',
      "compat-catalog",
      path,
    ]);
  }

  /** Apply `c` in one journaled transaction, with its undo archive made first; record it. */
  private async applyChange(
    history: History,
    c: Change,
    recovered: string | undefined,
  ): Promise<{ tag: string; undo: string | null; backup: string | null }> {
    const { parent, arch, path, versions } = this.layerPath(c.layer);
    const m = c.verified.manifest;
    const id = randomUUID();
    const tag = this.tagFor(c.action, c.layer, id);
    const { version, os } = layerParts(c.layer);
    const undo = c.undoPlan
      ? await makeUndo({
          host: this.o.host,
          versionsPath: versions,
          topDir: c.layer,
          plan: c.undoPlan,
          dir: undoDir(this.o.stateDir, this.o.repository, c.layer, id),
          identity: { stack: m.stack, version, os, arch: m.arch },
          base: { artifact: m.artifact, sha256: c.verified.report.sha256!, treeSha256: c.resultTree },
          treeSha256: c.liveTree!,
        })
      : null;
    const staged = `${this.storedTree(c.layer)}.${id}`;
    writeStoredTree(staged, c.resultIndex);
    let backup: string | null = null;
    let template: Transaction["template"];
    if (this.o.keepCopy && c.liveTree !== undefined) {
      backup = await this.nextBackup(parent, arch);
      template = { from: `versions/${c.layer}`, to: posix.join("versions", dirname(c.layer), backup) };
    }
    const event: NewHistoryEvent = {
      ...c.event,
      detail: [c.event.detail, recovered].filter(Boolean).join("; ") || null,
      treeSha256: c.resultTree,
      tag,
      undo: undo ? undo.artifact : null,
      backup,
    };
    try {
      await this.transact(
        {
          id,
          tag,
          layer: c.layer,
          command: `compat ${c.action} ${m.artifact}`,
          event,
          tree: staged,
          message: c.message,
          template,
        },
        async (host) => {
          if (m.kind === "delta") await deleteBeforeExtracting(host, path, m);
          else await deletePaths(host, path, c.deletions);
          await host.run(["mkdir", "-p", "--", versions]);
          const tar = host.spawn(["tar", "-x", "-p", "--no-same-owner", "-C", versions, "-f", "-"]);
          if (c.spool) await extractSpool(c.spool, tar);
          else await extractVerified(c.req, c.verified, tar);
          if (m.kind === "delta") await patchAfterExtracting(host, path, m);
          await requireLayerDirectory(host, path, m.artifact);
          await this.ensureCatalogMarker(host, path);
        },
      );
    } catch (e) {
      rmSync(staged, { force: true });
      if (undo) rmSync(dirname(undo.artifact), { recursive: true, force: true });
      throw e;
    } finally {
      if (c.spool) rmSync(c.spool, { force: true });
    }
    this.finish(history, { id, event, tree: staged, layer: c.layer });
    return { tag, undo: event.undo ?? null, backup };
  }

  // ---- planning --------------------------------------------------------------------------

  /**
   * A spool for a full artifact replacing `layer`: it keeps each member that differs from the tree
   * indexed as `from` (entryDiffers, as the plan compares them: hard links as the files they are),
   * or, given `names`, the members at those paths.
   */
  private spoolFor(layer: string, from: EntryIndex | Set<string>): TarSpool {
    const before = from instanceof Set ? undefined : contentIndex(from, { keepMarkers: true });
    const digests = new Map<string, string>();
    const rel = (name: string) =>
      name === layer ? "" : name.startsWith(`${layer}/`) ? name.slice(layer.length + 1) : undefined;
    const dir = join(this.o.stateDir, "spool");
    mkdirSync(dir, { recursive: true });
    return new TarSpool(join(dir, `${this.o.repository}-${randomUUID()}.tar`), (m) => {
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
  private keptTree(layer: string, current: HistoryEvent | undefined): EntryIndex | undefined {
    const kept = readStoredTree(this.storedTree(layer));
    return kept && current?.treeSha256 === kept.treeSha256 ? kept.index : undefined;
  }

  /** The published layer as it is: listed on its host, indexed (kept sha256s where the quick check holds). */
  private async live(layer: string, current: HistoryEvent | undefined): Promise<LiveLayer> {
    const { path, versions } = this.layerPath(layer);
    const listing = await listLayer(this.o.host, path, layerAncestors(versions, layer));
    const usable = this.keptTree(layer, current);
    const { index, hashed } = await liveIndex(this.o.host, path, listing, usable);
    if (hashed > 0)
      log.info(
        usable
          ? `${path}: ${hashed} file(s) changed since compat published it were hashed on ${this.o.host.description}`
          : `${path}: no kept index of this layer; hashed its ${hashed} file(s) on ${this.o.host.description}`,
      );
    return { listing, index, tree: treeSha256(index) };
  }

  /** Plan a delta (a published one, or a rollback's undo archive) onto the published layer. */
  private planDeltaChange(req: PublishRequest, verified: VerifiedArtifact, live: LiveLayer): PlannedChange {
    const m = verified.manifest;
    const delta = m.delta!;
    const { path } = this.layerPath(m.topDir);
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
  private planFullChange(
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
    const { path } = this.layerPath(m.topDir);
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
  private spooled(layer: string, spool: TarSpool): Set<string> {
    return new Set(spool.kept.map((n) => (n === layer ? "" : n.slice(layer.length + 1))));
  }

  // ---- publish, ingest, rollback ---------------------------------------------------------

  async publish(req: PublishRequest): Promise<PublishResult> {
    const unverified = await publishManifest(req);
    const { path } = this.layerPath(unverified.topDir);
    return this.withLock(`compat publish ${unverified.artifact}`, async (history, recovered) => {
      const current = history.latest(this.historyKey, unverified.topDir);
      const exists = await this.exists(path);
      let verified: VerifiedArtifact;
      let live: LiveLayer | undefined;
      let spool: TarSpool | undefined;
      if (exists && unverified.kind === "full") {
        // One pass over the artifact verifies it and keeps (spools) the entries that differ from the
        // layer: compared with the kept index of what compat published there while the layer is
        // listed (then checked against the listing), or, without one, with the listed layer.
        const kept = this.keptTree(unverified.topDir, current);
        const listing = kept ? this.live(unverified.topDir, current) : undefined;
        listing?.catch(() => {});
        const spooling = kept ?? (await this.live(unverified.topDir, current));
        live = listing ? undefined : (spooling as LiveLayer);
        spool = this.spoolFor(unverified.topDir, kept ?? (spooling as LiveLayer).index);
        try {
          verified = await preVerify(req, unverified, spool);
          live ??= await listing;
          const plan = planReplacement(live!.index, verified.index);
          const spooled = this.spooled(unverified.topDir, spool);
          if ([...plan.include].some((p) => !spooled.has(p))) {
            // Changed since compat published it: read the artifact again for what differs now.
            log.info(`${path} was changed since compat published it: reading ${unverified.artifact} again`);
            rmSync(spool.path, { force: true });
            spool = this.spoolFor(unverified.topDir, plan.include);
            verified = await preVerify(req, unverified, spool);
          }
        } catch (e) {
          rmSync(spool.path, { force: true });
          throw e;
        }
      } else {
        // Verifying (CPU here) and listing the layer (I/O on its host) overlap; nothing changes until both are done.
        const verifying = preVerify(req, unverified);
        verifying.catch(() => {}); // awaited below, after the listing has started
        const listing = exists ? this.live(unverified.topDir, current) : undefined;
        listing?.catch(() => {});
        verified = await verifying;
        live = await listing;
      }
      const m = verified.manifest;
      const sha256 = verified.report.sha256!;
      checkDeltaBase(m, path, exists, current);
      await checkPatchTool(this.o.host, m);
      const event: NewHistoryEvent = {
        target: this.historyKey,
        layer: m.topDir,
        action: "publish",
        kind: m.kind,
        artifact: m.artifact,
        sha256,
        previousSha256: current?.sha256 ?? null,
        backup: null,
        detail: req.reason ? `reason: ${req.reason}` : null,
      };
      if (this.o.ingest && m.kind === "full" && !exists)
        return this.ingestNew(history, req, verified, event, recovered);
      if (this.o.ingest && exists)
        log.info(`${path} exists: replacing it in a transaction instead of ingest`);
      const planned =
        m.kind === "delta"
          ? this.planDeltaChange(req, verified, live!)
          : this.planFullChange(req, verified, live, spool);
      const done = await this.applyChange(
        history,
        {
          ...planned,
          action: "publish",
          event: {
            ...event,
            detail: [`transaction on ${this.o.host.description}`, event.detail].filter(Boolean).join("; "),
          },
          message: `compat publish ${m.topDir} ${m.artifact} sha256 ${sha256.slice(0, 16)}${req.reason ? ` reason: ${req.reason}` : ""}`,
        },
        recovered,
      );
      return {
        target: this.target,
        layer: m.topDir,
        path,
        artifact: m.artifact,
        sha256,
        kind: m.kind,
        backup: done.backup,
        method: "transaction",
        tag: done.tag,
        changes: { written: planned.written, deleted: planned.deleted },
      };
    });
  }

  /** A new layer through `cvmfs_server ingest`, then a transaction that makes its nested catalog. */
  private async ingestNew(
    history: History,
    req: PublishRequest,
    verified: VerifiedArtifact,
    event: NewHistoryEvent,
    recovered: string | undefined,
  ): Promise<PublishResult> {
    const m = verified.manifest;
    const id = randomUUID();
    const staged = `${this.storedTree(m.topDir)}.${id}`;
    writeStoredTree(staged, contentIndex(verified.index));
    const full: NewHistoryEvent = {
      ...event,
      detail: [`ingest on ${this.o.host.description}`, event.detail, recovered].filter(Boolean).join("; "),
      treeSha256: treeSha256(verified.index),
    };
    const entry = this.journal.begin({
      id,
      repository: this.o.repository,
      publisher: this.o.host.description,
      command: `compat publish ${m.artifact} (ingest)`,
      layer: m.topDir,
      tag: "",
      step: "ingesting",
      event: full,
      tree: staged,
    });
    try {
      // ingest opens and publishes its own transaction; it is never given --delete.
      await extractVerified(
        req,
        verified,
        this.server.on(this.o.host.withEnv({ [JOURNAL_ENV]: id })).ingest("versions"),
      );
    } catch (e) {
      this.discard(entry, `failed: ${messageOf(e)}`);
      throw e;
    }
    this.journal.step(id, { ingested: true, step: "open" });
    const tag = await this.finishIngest(history, { ...entry, ingested: true }, undefined);
    return {
      target: this.target,
      layer: m.topDir,
      path: this.layerPath(m.topDir).path,
      artifact: m.artifact,
      sha256: event.sha256!,
      kind: "full",
      backup: null,
      method: "ingest",
      tag,
      changes: { written: verified.index.size, deleted: 0 },
    };
  }

  /**
   * After an ingest (or the recovery of one): a transaction that makes the layer its own nested
   * catalog (and those `.cvmfsdirtab` asks for: ingest applies neither), published with the tag
   * recorded for the ingest. When it fails, the ingest is recorded without a tag and the error
   * says how to finish.
   */
  private async finishIngest(
    history: History,
    e: JournalEntry,
    why: string | undefined,
  ): Promise<string | null> {
    const tag = this.tagFor("ingest", e.layer, e.id);
    const { path } = this.layerPath(e.layer);
    try {
      await this.transact(
        {
          id: e.id,
          tag,
          layer: e.layer,
          command: e.command,
          message: `compat nested catalog of ${e.layer} after ingest`,
          continues: true,
        },
        async (host) => this.ensureCatalogMarker(host, path),
      );
    } catch (err) {
      this.finish(
        history,
        { ...e, event: e.event ? { ...e.event, tag: null } : undefined },
        why && `recovered: ${why}`,
      );
      throw new ToolError(
        `${e.layer} was ingested and is published, but its nested catalog was not made: ${messageOf(err)}`,
        { command: `cvmfs_server transaction/publish ${this.o.repository}`, exitStatus: null },
        {
          details: isCompatError(err) ? err.details : [],
          hint: `on ${this.o.host.description}: cvmfs_server transaction ${this.o.repository} && touch ${path}/.cvmfscatalog && cvmfs_server publish ${this.o.repository}`,
        },
      );
    }
    this.finish(
      history,
      { ...e, event: e.event ? { ...e.event, tag } : undefined },
      why && `recovered: ${why}`,
    );
    if (why) log.warn(`recovered: ${why}; recorded it and made its nested catalog`);
    return tag;
  }

  async rollback(layer: string, reason?: string): Promise<RollbackResult> {
    const { path } = this.layerPath(layer);
    return this.withLock(`compat rollback ${layer}`, async (history, recovered) => {
      const last = history.latest(this.historyKey, layer);
      if (!last?.undo)
        throw new InputError(`${this.target}: nothing to roll back for ${layer}`, {
          hint: !last
            ? "compat has not published this layer here"
            : last.treeSha256 === null
              ? "the last publication was made by an older compat, which kept no undo archive; publish the previous artifact again (only what differs is written)"
              : "the last publication made the layer (there was none before it); publish another artifact instead",
        });
      if (!existsSync(last.undo))
        throw new ValidationError(`cannot roll back ${layer}: its undo archive ${last.undo} is missing`, {
          hint: "publish the previous artifact again (only what differs is written), or roll the whole repository back with cvmfs_server rollback -t TAG",
        });
      const { manifest: undoManifest } = await readManifest(`${last.undo}.manifest.json`);
      const req: PublishRequest = { artifact: last.undo, allowSetuid: undoManifest.setuid };
      const verified = await preVerify(req);
      if (verified.manifest.delta?.base.treeSha256 !== last.treeSha256 || undoManifest.topDir !== layer)
        throw new ValidationError(
          `cannot roll back ${layer}: ${last.undo} is not the undo of event ${last.id}`,
        );
      const planned = this.planDeltaChange(req, verified, await this.live(layer, last));
      const restored = restoredEvent(history.events(this.historyKey, layer), last);
      const done = await this.applyChange(
        history,
        {
          ...planned,
          action: "rollback",
          event: rollbackEvent(this.historyKey, last, restored, {
            backup: null,
            detail: `undid event ${last.id}${last.tag ? ` (${last.tag})` : ""}`,
            reason,
          }),
          message: `compat rollback ${layer} undo of ${last.tag ?? `event ${last.id}`}${reason ? ` reason: ${reason}` : ""}`,
        },
        recovered,
      );
      return {
        target: this.target,
        layer,
        path,
        restoredSha256: last.previousSha256,
        keptAs: done.undo ?? "",
        tag: done.tag,
      };
    });
  }

  async history(layer?: string): Promise<HistoryEvent[]> {
    return readHistory(this.o.stateDir, this.historyKey, layer);
  }
}
