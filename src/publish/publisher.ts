/**
 * The Publisher interface and what every publisher does the same way: verify the artifact fully
 * (members, manifest, signature, approved sha256) before touching anything, and verify it again
 * on the very stream that is extracted, so the bytes published are the bytes verified.
 */
import { Writable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import type { ArtifactManifest } from "../artifacts/manifest.js";
import { readManifest } from "../artifacts/manifest.js";
import { manifestPathFor } from "../artifacts/name.js";
import { type StreamingProcess, writeWithBackpressure } from "../artifacts/process.js";
import type { Violation } from "../artifacts/rules.js";
import { RECORD_BYTES } from "../artifacts/tar-gnu.js";
import { BLOCK } from "../artifacts/tar-header.js";
import { type VerifyReport, verifyArtifact } from "../artifacts/verify.js";
import { InputError, ValidationError } from "../errors.js";
import { safeName } from "../paths/rules.js";
import { ARCHES, type Arch } from "../spec/schema.js";
import type { HistoryEvent } from "./history.js";
import type { DeltaMember } from "./layer-guard.js";

export interface PublishRequest {
  artifact: string;
  /** Aborted on SIGINT/SIGTERM: a publish that has not replaced the layer yet stops and changes nothing. */
  signal?: AbortSignal;
  manifestPath?: string;
  publicKeyPath?: string;
  allowSetuid?: string[];
  /** The sha256 an admin approved; publishing refuses any other artifact. */
  approvedSha256?: string;
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
}

export interface RollbackResult {
  target: string;
  layer: string;
  path: string;
  restoredSha256: string | null;
  /** Where the layer that was rolled back now is. */
  keptAs: string;
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
  rollback(layer: string): Promise<RollbackResult>;
  history(layer?: string): Promise<HistoryEvent[]>;
  /** The layers the target holds (publishers that can list them cheaply). */
  inventory?(): Promise<RepositoryInventory>;
}

export interface VerifiedArtifact {
  manifest: ArtifactManifest;
  report: VerifyReport;
  /** A delta's members as verified, checked against the published layer before extracting (none for a full artifact). */
  deltaMembers: DeltaMember[];
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
  const parts = layer.split("/");
  if (parts.length !== 4 || parts[1] !== "compat" || parts.some((p) => !p || p === "." || p === ".."))
    throw new InputError(`${layer}: not a layer (expected <version>/compat/<os>/<arch>)`);
  return { version: parts[0]!, os: parts[2]!, arch: parts[3]! };
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
  if (current?.sha256 !== m.delta!.base.sha256)
    throw new ValidationError(
      `${m.artifact} applies to ${m.delta!.base.artifact}, but the published layer is not that one`,
      {
        details: [
          `published: ${current ? `${current.artifact ?? "?"} (${current.sha256})` : "unknown (not published by compat)"}`,
          `delta base: ${m.delta!.base.sha256}`,
        ],
        hint: "publish the full artifact instead",
      },
    );
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
export async function preVerify(req: PublishRequest): Promise<VerifiedArtifact> {
  const manifestPath = req.manifestPath ?? manifestPathFor(req.artifact);
  const { manifest } = await readManifest(manifestPath).catch((e) => {
    throw new InputError(`${req.artifact}: publishing needs the artifact's manifest`, {
      details: [e instanceof Error ? e.message : String(e)],
      hint: "compat pack writes it beside the artifact; pass another with --manifest",
    });
  });
  const deltaMembers: DeltaMember[] = [];
  const top = `${manifest.topDir}/`;
  const relative = (name: string) => name.replace(/\/+$/, "").slice(top.length);
  const report = await verifyArtifact(req.artifact, {
    manifestPath,
    publicKeyPath: req.publicKeyPath,
    allowSetuid: req.allowSetuid,
    approvedSha256: req.approvedSha256,
    signal: req.signal,
    onMember:
      manifest.kind === "delta"
        ? (h) => {
            // Members outside the top dir are violations of their own; the top dir itself is "".
            if (!`${h.name.replace(/\/+$/, "")}/`.startsWith(top)) return;
            deltaMembers.push({
              path: relative(h.name),
              linkTarget: h.type === "link" && h.linkname?.startsWith(top) ? relative(h.linkname) : undefined,
            });
          }
        : undefined,
  }).catch((e: unknown) => {
    throw req.signal?.aborted ? new PublishInterrupted() : e;
  });
  if (!report.ok) throw rejection(req.artifact, report.violations, report.violationCount);
  return { manifest, report, deltaMembers };
}

/**
 * Passes a stream through to `target` but holds back its last bytes (the end-of-archive blocks,
 * and the zero padding of the last record that GNU tar writes after them) until `release()`: an
 * extractor that has not seen them has not seen a complete archive, so a verification that fails
 * at the very end (sha256) still stops it from taking what it got.
 */
export class HoldBack extends Writable {
  private tail: Buffer = Buffer.alloc(0);

  constructor(
    private readonly target: Writable,
    private readonly keep = 2 * BLOCK + RECORD_BYTES,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const all = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const cut = Math.max(0, all.length - this.keep);
    this.tail = Buffer.from(all.subarray(cut));
    if (cut === 0) {
      cb();
      return;
    }
    const wait = writeWithBackpressure(this.target, all.subarray(0, cut));
    if (wait) wait.then(() => cb(), cb);
    else cb();
  }

  /** Verification passed: let the extractor see the end of the archive. */
  release(): void {
    this.target.end(this.tail);
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
