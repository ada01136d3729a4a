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
import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, posix } from "node:path";
import { contentIndex, treeSha256 } from "../artifacts/entry-index.js";
import { readManifest } from "../artifacts/manifest.js";
import { InputError, isCompatError, ToolError, ValidationError } from "../errors.js";
import type { CommandHost } from "../exec/host.js";
import { commandLine, processesWithEnv, processStart } from "../exec/processes.js";
import { log } from "../log.js";
import { type Change, ChangePlanner, extractSpool } from "./cvmfs-change.js";
import { assess, type JournalEntry, PublishJournal } from "./cvmfs-journal.js";
import { CvmfsServer, type HostProcess } from "./cvmfs-server.js";
import { cvmfsTagName } from "./cvmfs-text.js";
import { deleteBeforeExtracting, deletePaths, patchAfterExtracting } from "./delta-apply.js";
import type { History, NewHistoryEvent } from "./history.js";
import { requireLayerDirectory } from "./layer-guard.js";
import { storedTreePath, writeStoredTree } from "./layer-state.js";
import {
  extractVerified,
  layerParts,
  PublishInterrupted,
  type PublishRequest,
  type PublishResult,
  preVerify,
  publishManifest,
  type RollbackResult,
  throwIfInterrupted,
  unchangedResult,
  type VerifiedArtifact,
} from "./publisher.js";
import { PublisherSkeleton } from "./skeleton.js";
import { isUndoArchiveOf, makeUndo, pruneUndo, undoDir } from "./undo.js";

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
  /** An interrupt before `cvmfs_server publish` stops the change: not opened, or aborted. */
  signal?: AbortSignal;
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

export class CvmfsPublisher extends PublisherSkeleton {
  readonly target: string;
  protected readonly historyKey: string;
  protected readonly stateDir: string;
  private readonly server: CvmfsServer;
  private readonly journal: PublishJournal;

  private readonly planner: ChangePlanner;

  constructor(private readonly o: CvmfsPublisherOptions) {
    super();
    this.stateDir = o.stateDir;
    this.target = `cvmfs:${o.repository}${o.hostName ? `@${o.hostName}` : ""}`;
    this.historyKey = `cvmfs:${o.repository}`;
    this.server = new CvmfsServer(o.repository, o.host, o.configDir);
    this.journal = new PublishJournal(o.stateDir, o.repository);
    this.planner = new ChangePlanner({
      host: o.host,
      server: this.server,
      repository: o.repository,
      stateDir: o.stateDir,
      layerPath: (layer) => this.layerPath(layer),
    });
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

  protected async listNames(dir: string): Promise<string[]> {
    return (await this.o.host.run(["ls", "-A", "--", dir])).stdout.split("\n");
  }

  private storedTree(layer: string): string {
    return storedTreePath(this.o.stateDir, this.o.repository, layer);
  }

  private async withLock<T>(
    what: string,
    fn: (history: History, recovered: string | undefined) => Promise<T>,
  ): Promise<T> {
    return this.withHistory(
      join(this.o.stateDir, "locks", `${this.o.repository}.lock`),
      what,
      async (history) => {
        // Spools of publishes that were killed (we hold the lock: no live publish owns one).
        const spools = join(this.o.stateDir, "spool");
        if (existsSync(spools))
          for (const f of readdirSync(spools))
            if (f.startsWith(`${this.o.repository}-`)) rmSync(join(spools, f), { force: true });
        const recovered = await this.recover(history);
        // After recovery, an open transaction is not compat's: refuse before reading a layer someone is changing.
        if (await this.server.transactionLock()) throw this.foreignTransaction();
        return fn(history, recovered);
      },
    );
  }

  /**
   * Read the layer and plan (before compat's own transaction): a failure while someone else has
   * opened a transaction meanwhile (the layer changing under the reading) is refused as theirs.
   */
  private async reading<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (
        !(e instanceof ValidationError || e instanceof PublishInterrupted) &&
        (await this.server.transactionLock().catch(() => null))
      )
        throw this.foreignTransaction();
      throw e;
    }
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
    this.checkJournalEntry(e);
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

  /**
   * The journal is a file on disk that recovery removes, renames and records by: its entry may only
   * name a layer, this repository's history key, its own staged tree and undo archive in the state
   * dir and a tag of compat's shape; else nothing is done and the admin is asked.
   */
  private checkJournalEntry(e: JournalEntry): void {
    const bad = (what: string) =>
      new ValidationError(
        `${this.journal.file}: its unfinished entry ${JSON.stringify(e.id)} names ${what}, which is not what compat writes there`,
        {
          hint: `nothing was changed; check ${this.o.repository} (cvmfs_server list) and the state dir by hand, then remove the last lines of ${this.journal.file}`,
        },
      );
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(String(e.id)))
      throw bad("an id that is not a journal id");
    try {
      layerParts(String(e.layer));
    } catch {
      throw bad(`the layer ${JSON.stringify(e.layer)}`);
    }
    if (typeof e.tag !== "string" || !/^[A-Za-z0-9_.-]*$/.test(e.tag))
      throw bad(`the tag ${JSON.stringify(e.tag)}`);
    if (e.tree !== undefined && e.tree !== `${this.storedTree(e.layer)}.${e.id}`)
      throw bad(`the staged tree ${JSON.stringify(e.tree)}`);
    if (e.event && (e.event.layer !== e.layer || e.event.target !== this.historyKey))
      throw bad(`an event of ${JSON.stringify(e.event.target)} ${JSON.stringify(e.event.layer)}`);
    const undo = e.event?.undo;
    if (undo && !isUndoArchiveOf(undo, this.o.stateDir, this.o.repository, e.layer, e.id))
      throw bad(`the undo archive ${JSON.stringify(undo)}`);
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
      `${this.o.repository} already has an open transaction (cvmfs_server transaction refused: exit 17, or another publisher is opening one) that compat did not open: compat never publishes or joins someone else's transaction`,
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
    if (t.signal?.aborted) throw new PublishInterrupted(this.target);
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
    let publishing = false;
    try {
      await work(host);
      // The last moment an interrupt stops the change: from cvmfs_server publish on, it completes.
      if (t.signal?.aborted) throw new PublishInterrupted(this.target);
      this.journal.step(t.id, { step: "publishing" });
      publishing = true;
      await server.publish(t.tag, t.message);
    } catch (e) {
      const aborted = await this.abortAfterFailure();
      const interrupted = aborted && !publishing && t.signal?.aborted;
      if (aborted && !t.continues)
        this.journal.close(t.id, interrupted ? "aborted: interrupted" : `aborted: ${messageOf(e)}`);
      // What the interrupt stopped (tar killed) fails too: it is the interrupt, and nothing changed.
      throw interrupted ? new PublishInterrupted(this.target) : e;
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
    const undoPlan = c.undoPlan;
    const undo = undoPlan
      ? await this.reading(() =>
          makeUndo({
            host: this.o.host,
            versionsPath: versions,
            topDir: c.layer,
            plan: undoPlan,
            dir: undoDir(this.o.stateDir, this.o.repository, c.layer, id),
            identity: { stack: m.stack, version, os, arch: m.arch },
            base: { artifact: m.artifact, sha256: c.verified.report.sha256!, treeSha256: c.resultTree },
            treeSha256: c.liveTree!,
          }),
        )
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
          signal: c.req.signal,
        },
        async (host) => {
          if (m.kind === "delta") await deleteBeforeExtracting(host, path, m);
          else await deletePaths(host, path, c.deletions);
          await host.run(["mkdir", "-p", "--", versions]);
          const tar = host.spawn(["tar", "-x", "-p", "--no-same-owner", "-C", versions, "-f", "-"]);
          if (c.spool) await extractSpool(c.spool, tar, c.req.signal);
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

  // ---- publish, ingest, rollback ---------------------------------------------------------

  async publish(req: PublishRequest): Promise<PublishResult> {
    const unverified = await publishManifest(req);
    const { path } = this.layerPath(unverified.topDir);
    return this.withLock(`compat publish ${unverified.artifact}`, async (history, recovered) => {
      const current = history.latest(this.historyKey, unverified.topDir);
      const exists = await this.exists(path);
      if (
        exists &&
        current?.sha256 === unverified.sha256 &&
        (await this.planner.untouched(unverified.topDir, current))
      ) {
        // The artifact the layer was last published from, and the layer is still that tree (a layer
        // changed behind compat's back is brought back to it below): verified in full, then nothing
        // is changed (no listing, no transaction, no history event).
        const again = await preVerify(req, unverified);
        const unchanged = unchangedResult(
          this.target,
          path,
          again.manifest,
          again.report.sha256!,
          current,
          exists,
        );
        if (unchanged) return unchanged;
      }
      const { verified, live, spool } = await this.reading(() =>
        this.planner.verifyAndList(req, unverified, exists, current),
      );
      const m = verified.manifest;
      const sha256 = verified.report.sha256!;
      if (req.signal?.aborted) {
        if (spool) rmSync(spool.path, { force: true });
        throw new PublishInterrupted(this.target);
      }
      await this.checkChange(this.o.host, m, path, exists, current);
      const event = this.publishEvent(m, sha256, current, req.reason, null);
      if (this.o.ingest && m.kind === "full" && !exists)
        return this.ingestNew(history, req, verified, event, recovered);
      if (this.o.ingest && exists)
        log.info(`${path} exists: replacing it in a transaction instead of ingest`);
      const planned =
        m.kind === "delta"
          ? this.planner.planDelta(req, verified, live!)
          : this.planner.planFull(req, verified, live, spool);
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
      throwIfInterrupted(req, this.target);
      // ingest opens and publishes its own transaction; it is never given --delete. Once it runs it
      // completes (an ingest killed midway would leave its transaction open): no signal to stop it.
      await extractVerified(
        { ...req, signal: undefined },
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
      if (!isUndoArchiveOf(last.undo, this.o.stateDir, this.o.repository, layer))
        throw new ValidationError(
          `the history names ${JSON.stringify(last.undo)} as the undo archive of ${layer}, which is not where compat keeps them`,
          {
            hint: "the history was edited or is corrupt: nothing was changed; check it and the state dir's undo/ by hand",
          },
        );
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
      const planned = this.planner.planDelta(
        req,
        verified,
        await this.reading(() => this.planner.live(layer, last)),
      );
      const done = await this.applyChange(
        history,
        {
          ...planned,
          action: "rollback",
          event: this.rollbackEvent(history, last, {
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

  /** The layer directories under the repository's `versions/`, as the publishing host sees them. */
  protected async layerDirs(): Promise<string[]> {
    const { versions } = this.layerPath("x/compat/linux/x86_64");
    if (!(await this.exists(versions))) return [];
    const found = await this.o.host.run([
      "find",
      versions,
      "-mindepth",
      "4",
      "-maxdepth",
      "4",
      "-type",
      "d",
      "-path",
      `${versions}/*/compat/*/*`,
      "-printf",
      "%P\\n",
    ]);
    return found.stdout.split("\n").filter((l) => l !== "");
  }
}
