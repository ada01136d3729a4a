/**
 * `compat approve` and `compat reject`: a person's signed verdict on a candidate, bound to the
 * exact full artifact (its sha256 and its manifest's, hashed from disk now) and the gates' digest.
 * Approval is refused unless every gate of the registry ran and passed. The approver is the site
 * approver whose public key belongs to the private key that signs (a key the site config does not
 * know approves nothing). These are the functions the server of issue 17 calls too.
 */
import { createPublicKey, sign } from "node:crypto";
import { keyFingerprint, readKey } from "../artifacts/sign.js";
import { InputError, ValidationError } from "../errors.js";
import type { SiteConfig } from "../site/load.js";
import { currentUser } from "../store/actor.js";
import {
  type ApprovalRecord,
  approvalSigningPayload,
  listApprovals,
  recordApproval,
  type Verdict,
} from "../store/approvals.js";
import { getArtifact } from "../store/artifacts.js";
import { type Candidate, requireCandidate, transitionCandidate } from "../store/candidates.js";
import { gatesDigest, listGates } from "../store/gates.js";
import { isoNow, type Store } from "../store/store.js";
import {
  type ApproverKey,
  approvalSubject,
  evaluateApprovals,
  type PolicyVerdict,
} from "./approval-policy.js";
import { assertArtifactUnchanged } from "./artifact-files.js";
import { requiredGates } from "./gates/registry.js";
import { reapInterruptedUpdates } from "./interrupted.js";

/** Every site approver's public key, read now; an unreadable key is that approver's problem, not a crash. */
export async function loadApproverKeys(site: SiteConfig): Promise<Map<string, ApproverKey>> {
  const keys = new Map<string, ApproverKey>();
  for (const a of Object.values(site.approvers)) {
    try {
      keys.set(a.name, { key: await readKey(a.key, "public") });
    } catch (e) {
      keys.set(a.name, { problem: `${a.name}'s public key cannot be used: ${(e as Error).message}` });
    }
  }
  return keys;
}

/** The gates of a candidate as approval needs them: every gate its layer requires present and passed. */
export async function greenGates(site: SiteConfig, store: Store, candidate: Candidate) {
  const gates = await listGates(store, candidate.id);
  const byId = new Map(gates.map((g) => [g.gate, g]));
  const problems: string[] = [];
  for (const g of requiredGates(site.layers[candidate.layer])) {
    const r = byId.get(g.id);
    if (!r) problems.push(`${g.id}: has not run`);
    else if (r.state !== "passed") problems.push(`${g.id}: ${r.state}${summaryOf(r.report)}`);
  }
  return { gates, digest: gatesDigest(gates), problems };
}

function summaryOf(report: unknown): string {
  const s = (report as { summary?: unknown } | null)?.summary;
  return typeof s === "string" ? ` (${s})` : "";
}

export interface VerdictRequest {
  candidateId: number;
  verdict: Verdict;
  /** The approver's ed25519 private key (PEM, from compat keygen). */
  keyPath: string;
  /** Why (required for a rejection). */
  reason?: string;
}

export interface VerdictOutcome {
  candidate: Candidate;
  approval: ApprovalRecord;
  /** True when this approver's same verdict was already on record (nothing new was written). */
  already: boolean;
  /** What the candidate's approvals now satisfy, per site target. */
  targets: PolicyVerdict[];
}

export async function recordVerdict(
  site: SiteConfig,
  store: Store,
  req: VerdictRequest,
): Promise<VerdictOutcome> {
  await reapInterruptedUpdates(store);
  let candidate = await requireCandidate(store, req.candidateId);
  const allowed = req.verdict === "approve" ? ["ready", "approved", "published"] : ["ready", "approved"];
  if (!allowed.includes(candidate.state))
    throw new ValidationError(
      `candidate ${candidate.id} is ${candidate.state}: it cannot be ${req.verdict === "approve" ? "approved" : "rejected"}`,
      { hint: stateHint(candidate) },
    );
  const { digest, problems } = await greenGates(site, store, candidate);
  if (req.verdict === "approve" && problems.length > 0)
    throw new ValidationError(`candidate ${candidate.id} cannot be approved: not every gate passed`, {
      details: problems,
      hint: `see the reports: compat candidate ${candidate.id}`,
    });
  const full = candidate.fullSha256 ? await getArtifact(store, candidate.fullSha256) : undefined;
  if (!full) throw new ValidationError(`candidate ${candidate.id} has no full artifact in the store`);
  assertArtifactUnchanged(
    full,
    `${req.verdict === "approve" ? "approving" : "rejecting"} candidate ${candidate.id}`,
  );

  const privateKey = await readKey(req.keyPath, "private");
  const fingerprint = keyFingerprint(createPublicKey(privateKey));
  const keys = await loadApproverKeys(site);
  const approver = [...keys].find(([, k]) => "key" in k && keyFingerprint(k.key) === fingerprint)?.[0];
  if (!approver)
    throw new ValidationError(
      `the key ${req.keyPath} (sha256:${fingerprint.slice(0, 16)}…) is not the key of any approver in ${site.file ?? "the site config"}`,
      {
        details: [...keys].map(([name, k]) =>
          "key" in k ? `${name}: sha256:${keyFingerprint(k.key).slice(0, 16)}…` : `${name}: ${k.problem}`,
        ),
        hint: "an approver's public key is listed under approvers: in compat.yaml (made with compat keygen)",
      },
    );

  const standing = await listApprovals(store, candidate.id);
  const same = standing.find((a) => a.approver === approver && a.verdict === req.verdict);
  let approval: ApprovalRecord;
  if (same) approval = same;
  else {
    const fields = {
      candidateId: candidate.id,
      verdict: req.verdict,
      artifactSha256: full.sha256,
      manifestSha256: full.manifestSha256,
      gatesDigest: digest,
      approver,
      reason: req.reason ?? null,
      at: isoNow(),
    };
    approval = await recordApproval(store, {
      ...fields,
      reason: req.reason,
      keyId: fingerprint,
      signature: sign(null, approvalSigningPayload(fields), privateKey).toString("base64"),
    });
    const actor = `${approver} (${currentUser()})`;
    if (req.verdict === "reject")
      candidate = await transitionCandidate(store, candidate.id, "rejected", { actor, reason: req.reason });
    else if (candidate.state === "ready")
      candidate = await transitionCandidate(store, candidate.id, "approved", { actor });
  }
  return {
    candidate,
    approval,
    already: same !== undefined,
    targets: await targetVerdicts(site, store, candidate, digest, keys),
  };
}

/** The candidate's approvals judged by every site target's policy. */
export async function targetVerdicts(
  site: SiteConfig,
  store: Store,
  candidate: Candidate,
  digest: string,
  keys?: Map<string, ApproverKey>,
): Promise<PolicyVerdict[]> {
  const full = candidate.fullSha256 ? await getArtifact(store, candidate.fullSha256) : undefined;
  if (!full) return [];
  const approverKeys = keys ?? (await loadApproverKeys(site));
  const approvals = await listApprovals(store, candidate.id);
  return Object.values(site.targets).map((t) =>
    evaluateApprovals({
      target: t.name,
      policy: t.policy,
      subject: approvalSubject(candidate, full, digest),
      approvals,
      keys: approverKeys,
    }),
  );
}

function stateHint(c: Candidate): string {
  switch (c.state) {
    case "building":
    case "gating":
      return "wait for its update to finish its gates (compat status shows it)";
    case "failed":
      return `see why: compat candidate ${c.id}; run its gates again with compat gate ${c.id}, or make a new update`;
    case "rejected":
    case "superseded":
      return "make a new update: compat update LAYER --arch A";
    default:
      return `compat candidate ${c.id} shows its state`;
  }
}

/** `--why` and `--reason` texts: one line of printable text, at most 500 characters. */
export function checkReasonText(text: string, option: string): string {
  const t = text.trim();
  if (t === "") throw new InputError(`${option}: empty`);
  if (t.length > 500) throw new InputError(`${option}: ${t.length} characters (at most 500)`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\u0000-\u001f\u007f-\u009f]/.test(t))
    throw new InputError(
      `${option}: holds control characters (a newline, an escape …); give one line of text`,
    );
  return t;
}
