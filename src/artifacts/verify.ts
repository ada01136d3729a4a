/**
 * `compat verify`: read every member of an artifact and check it against the rules, the file
 * name, the manifest (sha256, size, members), the manifest's signature and an approved sha256.
 * Nothing is extracted or written. Publishing reuses `memberVerifier` on the same stream it
 * extracts, so what is published is exactly what was verified.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import type { Writable } from "node:stream";
import { extract, type Header } from "tar-stream";
import { InputError } from "../errors.js";
import { layerTopDir } from "../layer/id.js";
import { fileKind } from "../paths/regular-file.js";
import { DeltaPatchCheck } from "./delta-verify.js";
import { PaxFallbackNameFix, TarHeaderScan } from "./header-scan.js";
import type { ArtifactManifest } from "./manifest.js";
import { readManifest } from "./manifest.js";
import { type ArtifactIdentity, manifestPathFor, parseArtifactName, signaturePathFor } from "./name.js";
import { ArtifactStreamError, streamArtifact } from "./read.js";
import { MemberRules, pathProblem, type Violation } from "./rules.js";
import { verifySignature } from "./sign.js";

/** Stop listing after this many violations (the count goes on). */
const MAX_LISTED = 200;

export interface VerifyOptions {
  /** Manifest to check against; default `<artifact>.manifest.json` when it exists. */
  manifestPath?: string;
  /** Require the manifest's signature to verify with this public key. */
  publicKeyPath?: string;
  /** Member paths (relative to the top dir) that may carry setuid/setgid bits. */
  allowSetuid?: string[];
  /** Refuse unless the artifact's sha256 is this one. */
  approvedSha256?: string;
  /** Also stream the verified tar bytes into this writable (publishing extracts from it). */
  tee?: Writable;
  /** Every member header as it is read (indexing). */
  onMember?: (h: Header, content: AsyncIterable<Buffer>) => Promise<void> | void;
  /** Stop reading when aborted (SIGINT): verifyArtifact rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface VerifyReport {
  ok: boolean;
  artifact: string;
  identity?: ArtifactIdentity;
  sha256?: string;
  size?: number;
  members: number;
  files: number;
  contentBytes: number;
  setuid: string[];
  /**
   * Directories (relative to the layer, "" its top) that the artifact makes nested CernVM-FS
   * catalogs with a `.cvmfscatalog` member. Publishing to cvmfs adds one at the top when it is missing.
   */
  catalogMarkers: string[];
  manifest?: string;
  /**
   * The manifest's signature, when it verified. `publicKey` is the trusted key it was checked with;
   * null when none was given and the key the signature carries was used.
   */
  signature?: { publicKey: string | null; fingerprint: string };
  /** Total number of violations; `violations` lists at most 200. */
  violationCount: number;
  violations: Violation[];
  warnings: string[];
}

class Collector {
  count = 0;
  list: Violation[] = [];
  add(v: Violation): void {
    this.count++;
    if (this.list.length < MAX_LISTED) this.list.push(v);
  }
}

export interface MemberVerifier {
  writable: Writable;
  rules: MemberRules;
  counts: { members: number; files: number; contentBytes: number };
  /** Every member's name as this reader took it, in archive order. */
  names: string[];
}

/** A writable that parses a tar stream and checks every member, reporting to `report`. */
export function memberVerifier(
  topDir: string,
  allowSetuid: Iterable<string>,
  report: (v: Violation) => void,
  onMember?: VerifyOptions["onMember"],
): MemberVerifier {
  const rules = new MemberRules(topDir, new Set(allowSetuid));
  const counts = { members: 0, files: 0, contentBytes: 0 };
  const names: string[] = [];
  const ex = extract();
  ex.on("entry", (header, stream, next) => {
    counts.members++;
    names.push(header.name);
    if (header.type === "file" || header.type === "link") counts.files++;
    if (header.type === "file") counts.contentBytes += header.size ?? 0;
    for (const v of rules.check({
      name: header.name,
      type: header.type,
      mode: header.mode ?? 0,
      linkname: header.linkname,
      pax: header.pax as Record<string, string> | null | undefined,
    }))
      report(v);
    const done = onMember
      ? Promise.resolve(onMember(header, stream as unknown as AsyncIterable<Buffer>))
      : undefined;
    if (done) {
      done.then(
        () => {
          stream.resume();
          next();
        },
        (e) => ex.destroy(e),
      );
    } else {
      stream.on("end", () => next());
      stream.resume();
    }
  });
  // streamx's extract is a Writable in all but type.
  return { writable: ex as unknown as Writable, rules, counts, names };
}

function firstDifference(a: readonly string[], b: readonly string[]): number | undefined {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return undefined;
}

function tarProblem(e: unknown): Violation | undefined {
  if (e instanceof ArtifactStreamError) return { rule: e.problem, message: e.message };
  const msg = e instanceof Error ? e.message : String(e);
  if (/Unexpected end of data/.test(msg))
    return { rule: "truncated-stream", message: "the tar archive ends in the middle of a member" };
  if (/Invalid tar header|Invalid header|Header exceeds/.test(msg))
    return { rule: "corrupt-stream", message: `corrupt tar header (${msg})` };
  return undefined;
}

export async function verifyArtifact(artifactPath: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  // a FIFO (or a device) by an artifact's name would block the read for ever, or never end
  const kind = fileKind(artifactPath);
  if (kind !== "file" && kind !== "missing")
    throw new InputError(`${artifactPath}: a ${kind}, not an artifact file`, {
      hint: "give the artifact's .tar.zst/.tar.gz file as compat pack wrote it",
    });
  const v = new Collector();
  const warnings: string[] = [];
  const fileName = basename(artifactPath);
  const report: VerifyReport = {
    ok: false,
    artifact: artifactPath,
    members: 0,
    files: 0,
    contentBytes: 0,
    setuid: [],
    catalogMarkers: [],
    violationCount: 0,
    violations: [],
    warnings,
  };
  const finish = (): VerifyReport => {
    report.violationCount = v.count;
    report.violations = v.list;
    report.ok = v.count === 0;
    return report;
  };

  let identity: ArtifactIdentity;
  try {
    identity = parseArtifactName(fileName);
  } catch (e) {
    v.add({ rule: "artifact-name", member: fileName, message: (e as Error).message });
    return finish();
  }
  report.identity = identity;
  const topDir = layerTopDir(identity);

  let manifest: ArtifactManifest | undefined;
  let manifestBytes: Buffer | undefined;
  const manifestPath = opts.manifestPath ?? manifestPathFor(artifactPath);
  if (opts.manifestPath || existsSync(manifestPath)) {
    ({ manifest, bytes: manifestBytes } = await readManifest(manifestPath));
    report.manifest = manifestPath;
    const expect: [string, unknown, unknown][] = [
      ["artifact", manifest.artifact, fileName],
      ["topDir", manifest.topDir, topDir],
      ["stack", manifest.stack, identity.stack],
      ["version", manifest.version, identity.version],
      ["os", manifest.os, identity.os],
      ["arch", manifest.arch, identity.arch],
      ["kind", manifest.kind, identity.kind],
      ["compression", manifest.compression, identity.compression],
      ["buildTime", manifest.buildTime, identity.epoch],
    ];
    for (const [field, got, want] of expect)
      if (got !== want)
        v.add({
          rule: "manifest-mismatch",
          member: manifestPath,
          message: `${field} is ${String(got)}, the artifact's is ${String(want)}`,
        });
    for (const d of manifest.delta?.deletions ?? []) {
      const p = pathProblem(d);
      if (p) v.add({ rule: "bad-deletion", member: d, message: p.message });
    }
    if (manifest.kind === "delta" && !manifest.delta)
      v.add({
        rule: "manifest-mismatch",
        member: manifestPath,
        message: "a delta manifest without its base and deletions",
      });
  } else {
    warnings.push(`no manifest (${manifestPath}): sha256, size and member count were not compared`);
  }

  // Every signature present is verified, with or without a trusted key.
  const sigPath = signaturePathFor(manifestPath);
  if (opts.publicKeyPath && !manifestBytes) {
    v.add({
      rule: "signature",
      member: manifestPath,
      message: "a public key was given but there is no manifest to check",
    });
  } else if (manifestBytes && (opts.publicKeyPath || existsSync(sigPath))) {
    const check = await verifySignature(manifestBytes, sigPath, opts.publicKeyPath);
    if (!check.ok) v.add({ rule: "signature", member: sigPath, message: check.reason });
    else {
      report.signature = { publicKey: opts.publicKeyPath ?? null, fingerprint: check.fingerprint };
      if (!check.trusted)
        warnings.push(
          `the manifest's signature matches the key it carries (sha256:${check.fingerprint.slice(0, 16)}…): the manifest is unchanged since it was signed, but who signed it was not checked (give --pubkey)`,
        );
    }
  }

  const deltaCheck = new DeltaPatchCheck(
    topDir,
    identity.kind,
    manifest ? (manifest.delta?.patches ?? []) : undefined,
    manifest?.delta?.deletions ?? [],
    new Set(opts.allowSetuid ?? []),
    (x) => v.add(x),
  );
  const verifier = memberVerifier(
    topDir,
    opts.allowSetuid ?? [],
    (x) => v.add(x),
    (h, content) => {
      deltaCheck.member(h);
      return opts.onMember?.(h, content);
    },
  );
  // tar -x reads what verify approves: a second reading of the raw headers refuses what two tar
  // readers would read differently (header-scan.ts)
  const scan = new TarHeaderScan((x) => v.add(x));
  const consumers: Writable[] = [new PaxFallbackNameFix(verifier.writable), scan];
  if (opts.tee) consumers.push(opts.tee);
  try {
    const result = await streamArtifact(
      artifactPath,
      identity.compression,
      consumers,
      undefined,
      opts.signal,
    );
    report.sha256 = result.sha256;
    report.size = result.size;
    if (!result.endsWithEndOfArchive)
      v.add({
        rule: "truncated-stream",
        message: "the tar archive has no end-of-archive blocks: it was cut short",
      });
  } catch (e) {
    const problem = opts.signal?.aborted ? undefined : tarProblem(e);
    if (!problem) throw e;
    v.add(problem);
  }
  // Whatever the rules above do not foresee: both readers must see the same members.
  const differs = firstDifference(scan.members, verifier.names);
  if (differs !== undefined)
    v.add({
      rule: "unsupported-header",
      member: scan.members[differs] ?? verifier.names[differs],
      message: `member ${differs + 1}: GNU tar reads ${JSON.stringify(scan.members[differs] ?? "(the end)")}, the verifier's reader ${JSON.stringify(verifier.names[differs] ?? "(the end)")}`,
    });
  report.members = verifier.counts.members;
  report.files = verifier.counts.files;
  report.contentBytes = verifier.counts.contentBytes;
  deltaCheck.finish();
  report.setuid = [...verifier.rules.setuidMembers, ...deltaCheck.setuid];
  const marker = "/.cvmfscatalog";
  report.catalogMarkers = verifier.names
    .filter((n) => n.startsWith(`${topDir}/`) && n.endsWith(marker))
    .map((n) => n.slice(0, -marker.length))
    .map((dir) => (dir === topDir ? "" : dir.slice(topDir.length + 1)));

  if (manifest && report.sha256 !== undefined) {
    if (manifest.sha256 !== report.sha256)
      v.add({
        rule: "checksum-mismatch",
        message: `sha256 ${report.sha256}, the manifest says ${manifest.sha256}`,
      });
    if (manifest.size !== report.size)
      v.add({
        rule: "checksum-mismatch",
        message: `${report.size} bytes, the manifest says ${manifest.size}`,
      });
    if (manifest.members !== report.members)
      v.add({
        rule: "manifest-mismatch",
        message: `${report.members} members, the manifest says ${manifest.members}`,
      });
  }
  if (
    opts.approvedSha256 !== undefined &&
    report.sha256 !== undefined &&
    opts.approvedSha256 !== report.sha256
  )
    v.add({
      rule: "approval-mismatch",
      message: `sha256 ${report.sha256}, the approved one is ${opts.approvedSha256}`,
    });
  return finish();
}
