/**
 * `local:DIR`: a directory that stands for a repository root. A layer is unpacked into a staging
 * dir next to its target (verified again on the way in), then swapped in with one atomic
 * exchange, so at every instant the target is the complete old or the complete new layer. A delta
 * is applied to a copy of the current layer in the staging dir (delta-apply.ts). The old
 * layer is kept as `.<arch>-NNN`. A journal written before the swap lets the next command finish
 * or undo a publish that was killed, under the repository's one lock.
 */
import { randomBytes, randomUUID } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { indexTree, treeSha256 } from "../artifacts/entry-index.js";
import { InputError, ValidationError } from "../errors.js";
import { LocalHost } from "../exec/host.js";
import { run } from "../exec/run.js";
import { spawnStreaming } from "../exec/stream.js";
import { log } from "../log.js";
import { relativeInside } from "../paths/rules.js";
import { deleteBeforeExtracting, patchAfterExtracting } from "./delta-apply.js";
import { exchangePaths } from "./exchange.js";
import type { History, NewHistoryEvent } from "./history.js";
import { guardDelta, layerAncestors } from "./layer-guard.js";
import {
  backupPath,
  extractVerified,
  layerParts,
  type PublishRequest,
  type PublishResult,
  preVerify,
  type RollbackResult,
  throwIfInterrupted,
  unchangedResult,
} from "./publisher.js";
import { PublisherSkeleton } from "./skeleton.js";

interface Journal {
  id: string;
  op: "publish" | "rollback";
  layer: string;
  /** Until the swap: throw the staging dir away on recovery. */
  phase: "staging" | "swap";
  /** The inode the target has once the swap happened. */
  expectTargetIno?: number;
  /** After the swap: move the replaced layer from here to there. */
  moveAside?: { from: string; to: string };
  event?: NewHistoryEvent;
  cleanup?: string;
}

export interface LayerPaths {
  parent: string;
  arch: string;
  target: string;
  stagingRoot: string;
  stagingLayer: string;
}

/** rm -rf that outlasts a dying process still writing into the tree for a moment. */
function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
}

/** Staging dirs of publishes that were killed (we hold the lock: no live publish owns one). */
function removeStaleStaging(parent: string, arch: string): void {
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent))
    if (name.startsWith(`.${arch}.staging-`)) removeTree(join(parent, name));
}

function inode(path: string): number | undefined {
  try {
    return lstatSync(path).ino;
  } catch {
    return undefined;
  }
}

export class LocalPublisher extends PublisherSkeleton {
  readonly target: string;
  readonly root: string;
  protected readonly stateDir: string;
  protected readonly historyKey: string;
  private readonly host = new LocalHost();

  constructor(root: string) {
    super();
    this.root = resolve(root);
    this.target = `local:${this.root}`;
    this.historyKey = this.target;
    this.stateDir = join(this.root, ".compat");
  }

  layerPaths(layer: string): LayerPaths {
    const { version, os, arch } = layerParts(layer);
    const parent = join(this.root, "versions", version, "compat", os);
    // A fresh name for every publish: a killed publish can leave its tar running for a moment,
    // still writing into its own staging dir, which must never be the next publish's.
    const stagingRoot = join(parent, `.${arch}.staging-${randomBytes(6).toString("hex")}`);
    return { parent, arch, target: join(parent, arch), stagingRoot, stagingLayer: join(stagingRoot, layer) };
  }

  private get journalPath(): string {
    return join(this.stateDir, "journal.json");
  }

  private writeJournal(j: Journal): void {
    const tmp = `${this.journalPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(j));
    renameSync(tmp, this.journalPath);
  }

  private async withLock<T>(what: string, fn: (history: History) => Promise<T>): Promise<T> {
    if (!existsSync(this.root))
      throw new InputError(`${this.root}: no such directory`, {
        hint: "create the repository root first (mkdir -p)",
      });
    return this.withHistory(join(this.stateDir, "lock"), what, async (history) => {
      this.recover(history);
      return fn(history);
    });
  }

  /** Finish or undo what a killed command left, as its journal says. */
  private recover(history: History): void {
    if (!existsSync(this.journalPath)) return;
    let j: Journal;
    try {
      j = JSON.parse(readFileSync(this.journalPath, "utf8")) as Journal;
    } catch {
      // A journal that was being written when the process died: the swap never started.
      rmSync(this.journalPath, { force: true });
      return;
    }
    const paths = this.layerPaths(j.layer);
    this.checkJournal(j, paths);
    // A swap still on its way (its process was killed a moment ago) lands within milliseconds or
    // not at all (exchange.ts): look once more before deciding it did not happen.
    const swapped = () => j.expectTargetIno !== undefined && inode(paths.target) === j.expectTargetIno;
    if (j.phase === "swap" && !swapped()) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    if (j.phase === "swap" && swapped()) {
      log.warn(`finishing an interrupted ${j.op} of ${j.layer}`);
      this.completeSwap(j, history);
    } else {
      if (j.cleanup) {
        log.warn(`throwing away an interrupted ${j.op} of ${j.layer}`);
        removeTree(j.cleanup);
      }
      rmSync(this.journalPath, { force: true });
    }
  }

  /**
   * The journal is a file on disk that recovery removes and renames by: it may only name this
   * layer's staging dirs and a kept layer beside it, else nothing is done and the admin is asked.
   */
  private checkJournal(j: Journal, paths: LayerPaths): void {
    const what = `${this.journalPath} (a journal of compat ${j.op})`;
    const bad = (p: string) =>
      new ValidationError(`${what} names ${p}, which is not ${j.layer}'s staging or kept layer`, {
        hint: `nothing was changed; check ${paths.parent} by hand, then remove ${this.journalPath}`,
      });
    const staging = (p: string) => {
      let rel: string;
      try {
        rel = relativeInside(paths.parent, p, what);
      } catch {
        throw bad(p);
      }
      if (!rel.split("/")[0]!.startsWith(`.${paths.arch}.staging-`)) throw bad(p);
    };
    if (j.cleanup !== undefined) staging(j.cleanup);
    if (j.moveAside) {
      staging(j.moveAside.from);
      if (backupPath(paths.parent, paths.arch, basename(j.moveAside.to), join) !== j.moveAside.to)
        throw bad(j.moveAside.to);
    }
  }

  private completeSwap(j: Journal, history: History): void {
    if (j.moveAside && existsSync(j.moveAside.from)) renameSync(j.moveAside.from, j.moveAside.to);
    if (j.event) history.record({ ...j.event, journalId: j.id });
    if (j.cleanup) removeTree(j.cleanup);
    rmSync(this.journalPath, { force: true });
  }

  async publish(req: PublishRequest): Promise<PublishResult> {
    const verified = await preVerify(req);
    const m = verified.manifest;
    const sha256 = verified.report.sha256!;
    const paths = this.layerPaths(m.topDir);
    throwIfInterrupted(req, this.target);
    return this.withLock(`compat publish ${m.artifact}`, async (history) => {
      throwIfInterrupted(req, this.target);
      const current = history.latest(this.target, m.topDir);
      const hadPrevious = existsSync(paths.target);
      const unchanged = unchangedResult(this.target, paths.target, m, sha256, current, hadPrevious);
      if (unchanged) return unchanged;
      await this.checkChange(this.host, m, paths.target, hadPrevious, current);
      await guardDelta(
        this.host,
        paths.target,
        layerAncestors(join(this.root, "versions"), m.topDir),
        m,
        verified.deltaMembers,
      );
      const journal: Journal = {
        id: randomUUID(),
        op: "publish",
        layer: m.topDir,
        phase: "staging",
        cleanup: paths.stagingRoot,
      };
      this.writeJournal(journal);
      let tree: string | undefined;
      try {
        removeStaleStaging(paths.parent, paths.arch);
        mkdirSync(dirname(paths.stagingLayer), { recursive: true });
        if (m.kind === "delta") {
          await run("cp", ["-a", "--", paths.target, paths.stagingLayer], { signal: req.signal });
          await deleteBeforeExtracting(this.host, paths.stagingLayer, m);
        }
        const tar = spawnStreaming(
          "tar",
          ["-x", "-p", "--no-same-owner", "-C", paths.stagingRoot, "-f", "-"],
          {
            discardStdout: true,
          },
        );
        await extractVerified(req, verified, tar);
        if (m.kind === "delta") await patchAfterExtracting(this.host, paths.stagingLayer, m);
        // lstat: a top dir that came out as a symlink would publish a layer aliasing another place.
        if (!lstatSync(paths.stagingLayer, { throwIfNoEntry: false })?.isDirectory())
          throw new ValidationError(
            `${m.artifact}: extracting it did not produce a directory at ${m.topDir} (a symlink or another file is there, or nothing); nothing was published`,
          );
        tree = m.kind === "full" ? treeSha256(verified.index) : treeSha256(indexTree(paths.stagingLayer));
        if (m.kind === "delta" && m.delta?.treeSha256 !== undefined && m.delta.treeSha256 !== tree)
          throw new ValidationError(
            `${m.artifact}: applied to the published layer it gives tree ${tree}, but its manifest says ${m.delta.treeSha256}; nothing was published`,
          );
        // the last moment an interrupt stops the publish: from the swap on, it completes
        throwIfInterrupted(req, this.target);
      } catch (e) {
        removeTree(paths.stagingRoot);
        rmSync(this.journalPath, { force: true });
        throw this.interruptedOr(req, e);
      }
      const backup = hadPrevious ? await this.nextBackup(paths.parent, paths.arch) : null;
      const event: NewHistoryEvent = {
        ...this.publishEvent(m, sha256, current, req.reason, backup),
        treeSha256: tree ?? null,
      };
      Object.assign(journal, {
        phase: "swap",
        expectTargetIno: inode(paths.stagingLayer),
        moveAside: backup ? { from: paths.stagingLayer, to: join(paths.parent, backup) } : undefined,
        event,
      });
      this.writeJournal(journal);
      mkdirSync(paths.parent, { recursive: true });
      if (hadPrevious) await exchangePaths(paths.stagingLayer, paths.target);
      else renameSync(paths.stagingLayer, paths.target);
      this.completeSwap(journal, history);
      return {
        target: this.target,
        layer: m.topDir,
        path: paths.target,
        artifact: m.artifact,
        sha256,
        kind: m.kind,
        backup,
        method: hadPrevious ? "exchange" : "rename",
        tag: null,
        changes: null,
      };
    });
  }

  async rollback(layer: string, reason?: string): Promise<RollbackResult> {
    const paths = this.layerPaths(layer);
    return this.withLock(`compat rollback ${layer}`, async (history) => {
      const last = history.latest(this.target, layer);
      if (!last?.backup)
        throw new InputError(`${this.target}: nothing to roll back for ${layer}`, {
          hint: last ? "the last publication replaced no layer" : "compat has not published this layer here",
        });
      const kept = backupPath(paths.parent, paths.arch, last.backup, join);
      if (!existsSync(kept) || !existsSync(paths.target))
        throw new ValidationError(
          `cannot roll back ${layer}: ${existsSync(kept) ? paths.target : kept} is missing`,
        );
      const journal: Journal = {
        id: randomUUID(),
        op: "rollback",
        layer,
        phase: "swap",
        expectTargetIno: inode(kept),
        event: this.rollbackEvent(history, last, {
          backup: last.backup,
          detail: `undid event ${last.id}`,
          reason,
        }),
      };
      this.writeJournal(journal);
      await exchangePaths(kept, paths.target);
      this.completeSwap(journal, history);
      return {
        target: this.target,
        layer,
        path: paths.target,
        restoredSha256: last.previousSha256,
        keptAs: kept,
        tag: null,
      };
    });
  }

  protected listNames(dir: string): string[] {
    return readdirSync(dir);
  }

  protected layerDirs(): string[] {
    const dirs = (p: string) => {
      try {
        return readdirSync(p, { withFileTypes: true }).filter((d) => d.isDirectory());
      } catch {
        return [];
      }
    };
    const versions = join(this.root, "versions");
    const found: string[] = [];
    for (const v of dirs(versions))
      for (const os of dirs(join(versions, v.name, "compat")))
        for (const a of dirs(join(versions, v.name, "compat", os.name)))
          found.push(`${v.name}/compat/${os.name}/${a.name}`);
    return found;
  }
}
