/**
 * The Publisher interface and what every publisher does the same way: verify the artifact fully
 * (members, manifest, signature, approved sha256) before touching anything, and verify it again
 * on the very stream that is extracted, so the bytes published are the bytes verified.
 */
import { Writable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { type EntryIndex, indexingMember } from "../artifacts/entry-index.js";
import type { ArtifactManifest } from "../artifacts/manifest.js";
import { readManifest } from "../artifacts/manifest.js";
import { manifestPathFor } from "../artifacts/name.js";
import type { Violation } from "../artifacts/rules.js";
import { RECORD_BYTES } from "../artifacts/tar-gnu.js";
import { BLOCK } from "../artifacts/tar-header.js";
import { type VerifyReport, verifyArtifact } from "../artifacts/verify.js";
import { InputError, ValidationError } from "../errors.js";
import { type StreamingProcess, writeWithBackpressure } from "../exec/stream.js";
import { ARCHES, type Arch, parseTopDir } from "../layer/id.js";
import { safeName } from "../paths/rules.js";
import type { HistoryEvent, NewHistoryEvent } from "./history.js";

/** A member of a delta archive, relative to its top dir (`linkTarget` for hard links). */
export interface DeltaMember {
  path: string;
  linkTarget?: string;
}

export interface PublishRequest {
  artifact: string;
  /** Aborted on SIGINT/SIGTERM: a publish that has not replaced the layer yet stops and changes nothing. */
  signal?: AbortSignal;
  manifestPath?: string;
  publicKeyPath?: string;
  allowSetuid?: string[];
  /** The sha256 an admin approved; publishing refuses any other artifact. */
  approvedSha256?: string;
  /** Why it is published: recorded in the history (and, made shell-safe, in the cvmfs revision's tag). */
  reason?: string;
}

export interface PublishResult {
  target: string;
  layer: string;
  /** Where the layer now is (a local path, or the path under /cvmfs/<repo>). */
  path: string;
  artifact: string;
  sha256: string;
  kind: "full" | "delta";
  /** Where the replaced layer was kept, if there was one. */
  backup: string | null;
  method: string;
  /** cvmfs: the named tag of the revision. */
  tag: string | null;
  /** Entries written and paths deleted (a replacement writes only what differs); null when not counted. */
  changes: { written: number; deleted: number } | null;
}

export interface RollbackResult {
  target: string;
  layer: string;
  path: string;
  restoredSha256: string | null;
  /** Where the layer that was rolled back now is (cvmfs: the undo archive that redoes it). */
  keptAs: string;
  /** cvmfs: the named tag of the revision. */
  tag: string | null;
}

/** What a repository holds, whatever its history says: `<version>/compat/<os>/<arch>` paths. */
export interface RepositoryInventory {
  layers: string[];
  /** Layers kept by a publish or rollback (`.<arch>-NNN`). */
  kept: string[];
}

export interface Publisher {
  readonly target: string;
  publish(req: PublishRequest): Promise<PublishResult>;
  /** Put back the layer replaced by the last publish or rollback of `layer`. */
  rollback(layer: string, reason?: string): Promise<RollbackResult>;
  history(layer?: string): Promise<HistoryEvent[]>;
  /** The layers the target holds (publishers that can list them cheaply). */
  inventory?(): Promise<RepositoryInventory>;
}

export interface VerifiedArtifact {
  manifest: ArtifactManifest;
  report: VerifyReport;
  /** A delta's members as verified, checked against the published layer before extracting (none for a full artifact). */
  deltaMembers: DeltaMember[];
  /** Every member as verified (paths relative to the top dir, content sha256): a full artifact's whole tree. */
  index: EntryIndex;
}

/** A publish stopped by a signal before it replaced the layer: nothing changed (exit 130). */
export class PublishInterrupted extends Error {
  constructor(readonly target?: string) {
    super(`interrupted; nothing changed${target ? `: ${target} is as it was` : ""}`);
    this.name = "PublishInterrupted";
  }
}

/** Stop here when the publish was interrupted (only before the layer is replaced). */
export function throwIfInterrupted(req: PublishRequest, target?: string): void {
  if (req.signal?.aborted) throw new PublishInterrupted(target);
}

/** `<version>/compat/<os>/<arch>` split and checked (it becomes a path on the publishing host). */
export function layerParts(layer: string): { version: string; os: string; arch: string } {
  const parts = parseTopDir(layer);
  if (!parts) throw new InputError(`${layer}: not a layer (expected <version>/compat/<os>/<arch>)`);
  return parts;
}

/**
 * Where a kept layer named in the history is: `<parent>/.<arch>-NNN`. The name comes from a file
 * on disk (history.db), so anything else (`../x`, a path) is refused, not joined.
 */
export function backupPath(
  parent: string,
  arch: string,
  backup: string,
  join: (a: string, b: string) => string,
): string {
  if (parseKeptLayerName(safeName(backup, "the kept layer named in the history"))?.arch !== arch)
    throw new ValidationError(
      `the history names the kept layer ${JSON.stringify(backup)}, not .${arch}-NNN`,
      {
        hint: "the history was edited or is corrupt: check the repository's kept layers by hand",
      },
    );
  return join(parent, backup);
}

const KEPT_LAYER = new RegExp(`^\\.(${ARCHES.join("|")})-(\\d{3,})$`);

/** A kept layer's name `.<arch>-NNN` (an arch compat knows, three digits or more) read, or undefined. */
export function parseKeptLayerName(name: string): { arch: Arch; n: number } | undefined {
  const m = KEPT_LAYER.exec(name);
  return m ? { arch: m[1] as Arch, n: Number(m[2]) } : undefined;
}

/**
 * A repository's layers from its `<version>/compat/<os>/<arch>` directories (relative to
 * `versions/`), whatever the history says: `.<arch>-NNN` ones are kept, other hidden ones
 * (a publish's temporary) are neither.
 */
export function inventoryOf(layerDirs: Iterable<string>): RepositoryInventory {
  const layers: string[] = [];
  const kept: string[] = [];
  for (const rel of layerDirs) {
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    if (parseKeptLayerName(name)) kept.push(rel);
    else if (!name.startsWith(".")) layers.push(rel);
  }
  return { layers: layers.sort(), kept: kept.sort() };
}

/** `.<arch>-NNN` one above the highest among `names` (a directory listing). */
export function nextBackupName(names: Iterable<string>, arch: string): string {
  let max = 0;
  for (const name of names) {
    const kept = parseKeptLayerName(name.trim());
    if (kept?.arch === arch) max = Math.max(max, kept.n);
  }
  return `.${arch}-${String(max + 1).padStart(3, "0")}`;
}

/**
 * Publishing the artifact the layer was last published (or rolled back) from changes nothing: no
 * copy, no transaction, no kept layer, no history event. The result says `method: "unchanged"`.
 */
export function unchangedResult(
  target: string,
  path: string,
  m: ArtifactManifest,
  sha256: string,
  current: HistoryEvent | undefined,
  exists: boolean,
): PublishResult | undefined {
  if (!exists || current?.sha256 !== sha256) return undefined;
  return {
    target,
    layer: m.topDir,
    path,
    artifact: m.artifact,
    sha256,
    kind: m.kind,
    backup: null,
    method: "unchanged",
    tag: current.tag,
    changes: { written: 0, deleted: 0 },
  };
}

/** A delta applies only onto the layer published from its base artifact. */
export function checkDeltaBase(
  m: ArtifactManifest,
  layerPath: string,
  exists: boolean,
  current: HistoryEvent | undefined,
): void {
  if (m.kind !== "delta") return;
  if (!exists)
    throw new ValidationError(
      `${m.artifact}: a delta needs the layer it applies to, and ${layerPath} does not exist`,
    );
  if (!deltaBaseMatches(m, current))
    throw new ValidationError(
      `${m.artifact} applies to ${m.delta!.base.artifact}, but the published layer is not that one`,
      {
        details: [
          `published: ${current ? `${current.artifact ?? "?"} (${current.sha256}${current.treeSha256 ? `, tree ${current.treeSha256}` : ""})` : "unknown (not published by compat)"}`,
          `delta base: ${m.delta!.base.artifact} (${m.delta!.base.sha256}${m.delta!.base.treeSha256 ? `, tree ${m.delta!.base.treeSha256}` : ""})`,
        ],
        hint: "publish the full artifact instead",
      },
    );
}

/**
 * The published layer is the delta's base: published from the base artifact itself, or (chained
 * deltas) its tree is the base artifact's tree, e.g. brought there by an earlier delta.
 */
export function deltaBaseMatches(m: ArtifactManifest, current: HistoryEvent | undefined): boolean {
  const base = m.delta?.base;
  if (!base || !current) return false;
  if (current.sha256 === base.sha256) return true;
  return base.treeSha256 !== undefined && current.treeSha256 === base.treeSha256;
}

/** The history event of a rollback that undid `last` (the newest event of the layer), bringing back `restored`. */
export function rollbackEvent(
  target: string,
  last: HistoryEvent,
  restored: HistoryEvent | undefined,
  fields: { backup: string | null; detail: string; reason?: string },
): NewHistoryEvent {
  return {
    target,
    layer: last.layer,
    action: "rollback",
    kind: null,
    artifact: restored?.artifact ?? null,
    sha256: last.previousSha256,
    previousSha256: last.sha256,
    backup: fields.backup,
    detail: [fields.detail, fields.reason ? `reason: ${fields.reason}` : ""].filter(Boolean).join("; "),
    treeSha256: restored?.treeSha256 ?? null,
  };
}

/** The history event a rollback of `last` brings back (the newest one with the restored sha256). */
export function restoredEvent(events: HistoryEvent[], last: HistoryEvent): HistoryEvent | undefined {
  return [...events].reverse().find((e) => e.id !== last.id && e.sha256 === last.previousSha256);
}

export function rejection(what: string, violations: Violation[], count = violations.length): ValidationError {
  return new ValidationError(
    `${what}: rejected (${count} problem${count === 1 ? "" : "s"}); nothing was published`,
    {
      details: violations
        .slice(0, 30)
        .map((v) => `[${v.rule}] ${v.member ? `${v.member}: ` : ""}${v.message}`),
    },
  );
}

/** The full check before anything is written: a manifest is required and everything must pass. */
/** The manifest publishing needs (unverified until preVerify has compared it with the artifact). */
export async function publishManifest(req: PublishRequest): Promise<ArtifactManifest> {
  const manifestPath = req.manifestPath ?? manifestPathFor(req.artifact);
  const { manifest } = await readManifest(manifestPath).catch((e) => {
    throw new InputError(`${req.artifact}: publishing needs the artifact's manifest`, {
      details: [e instanceof Error ? e.message : String(e)],
      hint: "compat pack writes it beside the artifact; pass another with --manifest",
    });
  });
  return manifest;
}

/**
 * Verify fully before anything is written (`read`: the manifest already read; `tee`: where the
 * verified tar stream also goes, e.g. a spool of the entries a replacement writes).
 */
export async function preVerify(
  req: PublishRequest,
  read?: ArtifactManifest,
  tee?: Writable,
): Promise<VerifiedArtifact> {
  const manifestPath = req.manifestPath ?? manifestPathFor(req.artifact);
  const manifest = read ?? (await publishManifest(req));
  const deltaMembers: DeltaMember[] = [];
  const top = `${manifest.topDir}/`;
  const relative = (name: string) => name.replace(/\/+$/, "").slice(top.length);
  const index: EntryIndex = new Map();
  const indexMember = indexingMember(index);
  const report = await verifyArtifact(req.artifact, {
    manifestPath,
    publicKeyPath: req.publicKeyPath,
    allowSetuid: req.allowSetuid,
    approvedSha256: req.approvedSha256,
    tee,
    signal: req.signal,
    onMember: async (h, content) => {
      // Members outside the top dir are violations of their own; the top dir itself is "".
      if (manifest.kind === "delta" && `${h.name.replace(/\/+$/, "")}/`.startsWith(top))
        deltaMembers.push({
          path: relative(h.name),
          linkTarget: h.type === "link" && h.linkname?.startsWith(top) ? relative(h.linkname) : undefined,
        });
      await indexMember(h, content);
    },
  }).catch((e: unknown) => {
    throw req.signal?.aborted ? new PublishInterrupted() : e;
  });
  if (!report.ok) throw rejection(req.artifact, report.violations, report.violationCount);
  return { manifest, report, deltaMembers, index };
}

/**
 * Passes a stream through to `target` but holds back its last bytes (the end-of-archive blocks,
 * and the zero padding of the last record that GNU tar writes after them) until `release()`: an
 * extractor that has not seen them has not seen a complete archive, so a verification that fails
 * at the very end (sha256) still stops it from taking what it got.
 */
export class HoldBack extends Writable {
  /** The newest chunks, at least `keep` bytes of them (older ones are passed on as soon as they are not needed). */
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(
    private readonly target: Writable,
    private readonly keep = 2 * BLOCK + RECORD_BYTES,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    const out: Buffer[] = [];
    while (this.held.length > 1 && this.heldBytes - this.held[0]!.length >= this.keep) {
      const c = this.held.shift()!;
      this.heldBytes -= c.length;
      out.push(c);
    }
    if (out.length === 0) {
      cb();
      return;
    }
    const wait = writeWithBackpressure(this.target, out.length === 1 ? out[0]! : Buffer.concat(out));
    if (wait) wait.then(() => cb(), cb);
    else cb();
  }

  /** Verification passed: let the extractor see the end of the archive. */
  release(): void {
    this.target.end(Buffer.concat(this.held));
  }
}

/**
 * Stream the artifact into `extractor` (tar -x, locally or over ssh) while verifying it again;
 * rejects unless the verification passes, the sha256 is the pre-verified one and the extractor
 * exits 0. The caller throws away what was extracted when this rejects.
 */
export async function extractVerified(
  req: PublishRequest,
  verified: VerifiedArtifact,
  extractor: StreamingProcess,
): Promise<void> {
  let report: VerifyReport;
  const holdBack = new HoldBack(extractor.stdin);
  // An interrupt stops the extractor before it sees the end of the archive: it takes nothing.
  const stop = () => extractor.kill("SIGKILL");
  req.signal?.addEventListener("abort", stop, { once: true });
  try {
    report = await verifyArtifact(req.artifact, {
      manifestPath: req.manifestPath ?? manifestPathFor(req.artifact),
      publicKeyPath: req.publicKeyPath,
      allowSetuid: req.allowSetuid,
      approvedSha256: verified.report.sha256,
      tee: holdBack,
      signal: req.signal,
    });
  } catch (e) {
    req.signal?.removeEventListener("abort", stop);
    if (req.signal?.aborted) {
      extractor.kill("SIGKILL");
      await extractor.done.catch(() => {});
      throw new PublishInterrupted();
    }
    // An extractor that died (disk full, remote gone) breaks the pipe: its own error says why.
    const early = await Promise.race([
      extractor.done.then(
        () => undefined,
        (x: unknown) => x,
      ),
      delay(500).then(() => undefined),
    ]);
    extractor.kill("SIGKILL");
    await extractor.done.catch(() => {});
    throw early ?? e;
  }
  req.signal?.removeEventListener("abort", stop);
  if (!report.ok) {
    extractor.kill("SIGKILL");
    await extractor.done.catch(() => {});
    throw rejection(
      `${req.artifact} (changed since it was verified)`,
      report.violations,
      report.violationCount,
    );
  }
  holdBack.release();
  await extractor.done;
}
