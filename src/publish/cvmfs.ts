/**
 * `cvmfs:REPO[@HOST]`: publishing with cvmfs_server on a stratum 0 (or a publisher), locally or
 * over ssh, with the semantics measured against cvmfs 2.12 (DESIGN.md "Publishing"):
 *
 *   transaction REPO            exit 17 = someone else's transaction is open: hard stop, never joined
 *   mv <arch> .<arch>-NNN       the old layer stays reachable and can be rolled back
 *   tar -x (verified stream)    every process's exit status checked
 *   publish REPO                one revision replaces the layer
 *   abort -f REPO               after any failure once our transaction is open (22 = none open)
 *
 * A delta is applied the same way, in the transaction's writable tree (delta-apply.ts: deletions,
 * extraction, binary patches checked against the base's and the result's sha256). `ingest` is used
 * only when asked, only for a layer that does not exist yet, and never with `--delete` (which
 * crashes cvmfs 2.12 together with `--base_dir`); after a failed ingest nothing is aborted, since
 * ingest aborts its own transaction and an open one (exit 1) is someone else's. ingest does not
 * rebuild the nested catalogs `.cvmfsdirtab` asks for, so an empty transaction and publish follow
 * it (as EESSI's ingest-tarball.sh does, but a failure of it is reported, not ignored).
 */

import { join, posix } from "node:path";
import { InputError, ToolError, ValidationError } from "../errors.js";
import { log } from "../log.js";
import { checkPatchTool, deleteBeforeExtracting, patchAfterExtracting } from "./delta-apply.js";
import {
  type History,
  type HistoryEvent,
  type NewHistoryEvent,
  readHistory,
  withLockedHistory,
} from "./history.js";
import type { CommandHost } from "./host.js";
import { guardDelta, layerAncestors, requireLayerDirectory } from "./layer-guard.js";
import {
  backupPath,
  checkDeltaBase,
  extractVerified,
  layerParts,
  nextBackupName,
  type Publisher,
  type PublishRequest,
  type PublishResult,
  preVerify,
  type RollbackResult,
  restoredEvent,
  unchangedResult,
} from "./publisher.js";

export interface CvmfsPublisherOptions {
  repository: string;
  host: CommandHost;
  hostName?: string;
  stateDir: string;
  cvmfsRoot: string;
  catalog: boolean;
  ingest: boolean;
}

/** Exit statuses of cvmfs_server 2.12 that mean something specific. */
export const CVMFS_STATUS = { transactionOpen: 17, noTransaction: 22 } as const;

export class CvmfsPublisher implements Publisher {
  readonly target: string;
  private readonly historyKey: string;

  constructor(private readonly o: CvmfsPublisherOptions) {
    this.target = `cvmfs:${o.repository}${o.hostName ? `@${o.hostName}` : ""}`;
    this.historyKey = `cvmfs:${o.repository}`;
  }

  private layerPath(layer: string): { parent: string; arch: string; path: string; versions: string } {
    const { arch } = layerParts(layer);
    const versions = posix.join(this.o.cvmfsRoot, this.o.repository, "versions");
    const path = posix.join(versions, layer);
    return { parent: posix.dirname(path), arch, path, versions };
  }

  private cvmfs(args: string[], okStatuses?: number[]) {
    return this.o.host.run(["cvmfs_server", ...args], okStatuses);
  }

  private async exists(path: string): Promise<boolean> {
    return (await this.o.host.run(["test", "-e", path], [0, 1])).status === 0;
  }

  private async nextBackup(parent: string, arch: string): Promise<string> {
    const listing = await this.o.host.run(["ls", "-A", "--", parent]);
    return nextBackupName(listing.stdout.split("\n"), arch);
  }

  private async withLock<T>(what: string, fn: (history: History) => Promise<T>): Promise<T> {
    return withLockedHistory(
      join(this.o.stateDir, "locks", `${this.o.repository}.lock`),
      this.o.stateDir,
      what,
      fn,
    );
  }

  /** Open a transaction; exit 17 means one is open already, which we never join. */
  private async openTransaction(): Promise<void> {
    const r = await this.cvmfs(["transaction", this.o.repository], [0, CVMFS_STATUS.transactionOpen]);
    if (r.status === CVMFS_STATUS.transactionOpen)
      throw new ToolError(
        `${this.o.repository} already has an open transaction (cvmfs_server transaction exit 17); compat never publishes someone else's transaction`,
        { command: `cvmfs_server transaction ${this.o.repository}`, exitStatus: 17 },
        {
          hint: `find out who opened it on ${this.o.host.description}; once it is published or aborted, run this again`,
        },
      );
  }

  /** Inside our transaction: do the work, publish; on any failure abort -f and rethrow. */
  private async inTransaction(work: () => Promise<void>, message: string): Promise<void> {
    await this.openTransaction();
    try {
      await work();
      await this.cvmfs(["publish", "-m", message, this.o.repository]);
    } catch (e) {
      try {
        const r = await this.cvmfs(["abort", "-f", this.o.repository], [0, CVMFS_STATUS.noTransaction]);
        if (r.status === CVMFS_STATUS.noTransaction)
          log.warn(`cvmfs_server abort -f: no transaction was open on ${this.o.repository}`);
        else log.warn(`aborted the transaction on ${this.o.repository}; the repository is as it was`);
      } catch (abortError) {
        log.error(
          `cvmfs_server abort -f ${this.o.repository} failed too: the repository may still be in a transaction (${(abortError as Error).message})`,
        );
      }
      throw e;
    }
  }

  async publish(req: PublishRequest): Promise<PublishResult> {
    const verified = await preVerify(req);
    const m = verified.manifest;
    const sha256 = verified.report.sha256!;
    const { parent, arch, path, versions } = this.layerPath(m.topDir);
    return this.withLock(`compat publish ${m.artifact}`, async (history) => {
      const current = history.latest(this.historyKey, m.topDir);
      const exists = await this.exists(path);
      const unchanged = unchangedResult(this.target, path, m, sha256, current, exists);
      if (unchanged) return unchanged;
      checkDeltaBase(m, path, exists, current);
      await checkPatchTool(this.o.host, m);
      // Before the transaction opens: the published tree is the one the transaction starts from.
      await guardDelta(this.o.host, path, layerAncestors(versions, m.topDir), m, verified.deltaMembers);
      const tar = () =>
        extractVerified(
          req,
          verified,
          this.o.host.spawn(["tar", "-x", "-p", "--no-same-owner", "-C", versions, "-f", "-"]),
        );
      let backup: string | null = null;
      let method: string;
      if (this.o.ingest && m.kind === "full" && !exists && !this.o.catalog) {
        method = "ingest";
        // ingest opens and publishes its own transaction; it is never given --delete.
        await extractVerified(
          req,
          verified,
          this.o.host.spawn([
            "cvmfs_server",
            "ingest",
            "--tar_file",
            "-",
            "--base_dir",
            "versions",
            this.o.repository,
          ]),
        );
      } else {
        if (this.o.ingest && exists)
          log.info(`${path} exists: replacing it in a transaction instead of ingest`);
        method = "transaction";
        await this.inTransaction(
          async () => {
            if (m.kind === "full" && exists) {
              backup = await this.nextBackup(parent, arch);
              await this.o.host.run(["mv", "-T", "--", path, posix.join(parent, backup)]);
            }
            if (m.kind === "delta") await deleteBeforeExtracting(this.o.host, path, m);
            await this.o.host.run(["mkdir", "-p", "--", versions]);
            await tar();
            if (m.kind === "delta") await patchAfterExtracting(this.o.host, path, m);
            await requireLayerDirectory(this.o.host, path, m.artifact);
            if (this.o.catalog) await this.o.host.run(["touch", "--", posix.join(path, ".cvmfscatalog")]);
          },
          `compat: ${m.kind === "delta" ? "delta update of" : "publish"} ${m.topDir} from ${m.artifact} (sha256 ${sha256})`,
        );
      }
      const event: NewHistoryEvent = {
        target: this.historyKey,
        layer: m.topDir,
        action: "publish",
        kind: m.kind,
        artifact: m.artifact,
        sha256,
        previousSha256: current?.sha256 ?? null,
        backup,
        detail: `${method} on ${this.o.host.description}`,
      };
      history.record(event);
      if (method === "ingest") await this.regenerateCatalogs(m.artifact);
      return {
        target: this.target,
        layer: m.topDir,
        path,
        artifact: m.artifact,
        sha256,
        kind: m.kind,
        backup,
        method,
      };
    });
  }

  /** After an ingest: an empty transaction, whose publish makes the nested catalogs of `.cvmfsdirtab`. */
  private async regenerateCatalogs(artifact: string): Promise<void> {
    try {
      await this.inTransaction(async () => {}, `compat: nested catalogs after ingesting ${artifact}`);
    } catch (e) {
      throw new ToolError(
        `${artifact} was ingested and is published, but the nested catalogs were not regenerated: ${(e as Error).message}`,
        { command: `cvmfs_server transaction/publish ${this.o.repository}`, exitStatus: null },
        {
          hint: `on ${this.o.host.description}: cvmfs_server transaction ${this.o.repository} && cvmfs_server publish ${this.o.repository}`,
        },
      );
    }
  }

  async rollback(layer: string): Promise<RollbackResult> {
    const { parent, arch, path } = this.layerPath(layer);
    return this.withLock(`compat rollback ${layer}`, async (history) => {
      const last = history.latest(this.historyKey, layer);
      if (!last?.backup)
        throw new InputError(`${this.target}: nothing to roll back for ${layer}`, {
          hint:
            last?.kind === "delta"
              ? "a delta is applied in place and keeps no copy; roll the repository back with cvmfs_server rollback -t TAG, or publish the previous full artifact"
              : "the last publication replaced no layer",
        });
      const kept = backupPath(parent, arch, last.backup, posix.join);
      let keptAs = "";
      await this.inTransaction(async () => {
        if (!(await this.exists(kept)))
          throw new ValidationError(`cannot roll back ${layer}: ${kept} is missing`);
        keptAs = await this.nextBackup(parent, arch);
        await this.o.host.run(["mv", "-T", "--", path, posix.join(parent, keptAs)]);
        await this.o.host.run(["mv", "-T", "--", kept, path]);
      }, `compat: roll back ${layer} to ${last.backup}`);
      const restored = restoredEvent(history.events(this.historyKey, layer), last);
      history.record({
        target: this.historyKey,
        layer,
        action: "rollback",
        kind: null,
        artifact: restored?.artifact ?? null,
        sha256: last.previousSha256,
        previousSha256: last.sha256,
        backup: keptAs,
        detail: `undid event ${last.id}; restored ${last.backup}`,
      });
      return {
        target: this.target,
        layer,
        path,
        restoredSha256: last.previousSha256,
        keptAs: posix.join(parent, keptAs),
      };
    });
  }

  async history(layer?: string): Promise<HistoryEvent[]> {
    return readHistory(this.o.stateDir, this.historyKey, layer);
  }
}
