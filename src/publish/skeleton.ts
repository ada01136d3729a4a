/**
 * The publish skeleton both publishers (local.ts, cvmfs.ts) build on: the history (refused when it
 * was lost while layers exist, read, written under the repository's lock), the inventory, the checks
 * every change passes before anything is written, and the history events of a publish and of a
 * rollback. A publisher plugs in what differs: where its lock and state are, how it lists the
 * layer directories, and how it applies a change (publish, rollback).
 */
import type { ArtifactManifest } from "../artifacts/manifest.js";
import type { CommandHost } from "../exec/host.js";
import { checkPatchTool } from "./delta-apply.js";
import {
  type History,
  type HistoryEvent,
  historyFileState,
  type NewHistoryEvent,
  readHistory,
  refuseLostHistory,
  withLockedHistory,
} from "./history.js";
import {
  checkDeltaBase,
  inventoryOf,
  nextBackupName,
  type Publisher,
  PublishInterrupted,
  type PublishRequest,
  type PublishResult,
  type RepositoryInventory,
  type RollbackResult,
  restoredEvent,
  rollbackEvent,
} from "./publisher.js";

export abstract class PublisherSkeleton implements Publisher {
  abstract readonly target: string;
  /** The target's name in the history (the target without where it is published from). */
  protected abstract readonly historyKey: string;
  /** Where the history (and the publisher's journal) is kept. */
  protected abstract readonly stateDir: string;

  abstract publish(req: PublishRequest): Promise<PublishResult>;
  abstract rollback(layer: string, reason?: string): Promise<RollbackResult>;

  /** The layer directories under `versions/` (`<version>/compat/<os>/<arch>`, kept ones too). */
  protected abstract layerDirs(): Promise<string[]> | string[];
  /** The names in directory `dir` of the repository (where a kept layer goes). */
  protected abstract listNames(dir: string): Promise<string[]> | string[];

  /** The name a layer of `arch` in `parent` is kept under when a change replaces it: `.<arch>-NNN`. */
  protected async nextBackup(parent: string, arch: string): Promise<string> {
    return nextBackupName(await this.listNames(parent), arch);
  }

  /** What a failure during a change is: the interrupt, when the request was interrupted. */
  protected interruptedOr(req: PublishRequest, e: unknown): unknown {
    return req.signal?.aborted ? new PublishInterrupted(this.target) : e;
  }

  async history(layer?: string): Promise<HistoryEvent[]> {
    await this.refuseLostHistory();
    return readHistory(this.stateDir, this.historyKey, layer);
  }

  /** The layers under `versions/` and the kept ones beside them, whatever the history says. */
  async inventory(): Promise<RepositoryInventory> {
    return inventoryOf(await this.layerDirs());
  }

  /** Starting a new history over a truncated one would lose the record of what is live. */
  protected async refuseLostHistory(): Promise<void> {
    if (historyFileState(this.stateDir) === "empty")
      refuseLostHistory(this.stateDir, this.target, await this.inventory());
  }

  /** Run `fn` holding the lock at `lockPath`, with the history open (refused first when it was lost). */
  protected async withHistory<T>(
    lockPath: string,
    what: string,
    fn: (history: History) => Promise<T>,
  ): Promise<T> {
    await this.refuseLostHistory();
    return withLockedHistory(lockPath, this.stateDir, what, fn);
  }

  /** Before anything is written: a delta applies to its base only, and its patches need the tool. */
  protected async checkChange(
    host: CommandHost,
    m: ArtifactManifest,
    layerPath: string,
    exists: boolean,
    current: HistoryEvent | undefined,
  ): Promise<void> {
    checkDeltaBase(m, layerPath, exists, current);
    await checkPatchTool(host, m);
  }

  /** The history event of publishing `m` over `current` (a publisher adds what it knows more). */
  protected publishEvent(
    m: ArtifactManifest,
    sha256: string,
    current: HistoryEvent | undefined,
    reason: string | undefined,
    backup: string | null,
  ): NewHistoryEvent {
    return {
      target: this.historyKey,
      layer: m.topDir,
      action: "publish",
      kind: m.kind,
      artifact: m.artifact,
      sha256,
      previousSha256: current?.sha256 ?? null,
      backup,
      detail: reason ? `reason: ${reason}` : null,
    };
  }

  /** The history event of a rollback that undoes `last`, the newest event of its layer. */
  protected rollbackEvent(
    history: History,
    last: HistoryEvent,
    fields: { backup: string | null; detail: string; reason?: string },
  ): NewHistoryEvent {
    const restored = restoredEvent(history.events(this.historyKey, last.layer), last);
    return rollbackEvent(this.historyKey, last, restored, fields);
  }
}
