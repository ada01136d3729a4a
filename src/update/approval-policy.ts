/**
 * Which approvals of a candidate count for a target, by the target's policy (pure: the caller
 * reads the records, the keys and the current gates). An approval counts only when every field
 * that binds it still holds: its ed25519 signature verifies over exactly its recorded fields with
 * the key the site config gives its approver (not a key the record names), it is for the
 * candidate's artifact and manifest as they are now, the gates' digest is the digest of the gates
 * as they are now, its approver is one the policy allows, and it is not the requester's own when
 * the policy forbids that. Several approvals by one approver count once. A standing rejection
 * refuses the candidate everywhere.
 *
 * The same function decides for `compat approve` (what it reports), `compat promote` and
 * `compat publish` (what they require), and the server of issue 17.
 */
import type { KeyObject } from "node:crypto";
import { keyFingerprint, verifyDetached } from "../artifacts/sign.js";
import type { ApprovalPolicy } from "../site/load.js";
import { type ApprovalRecord, approvalSigningPayload } from "../store/approvals.js";

export interface ApprovalSubject {
  candidateId: number;
  /** The full artifact's sha256 (what approvers approve). */
  artifactSha256: string;
  /** sha256 of the full artifact's manifest file as it is now. */
  manifestSha256: string;
  /** gatesDigest() of the candidate's gates as they are now. */
  gatesDigest: string;
  /** The OS user who started the update (`alice`, or `alice (as root)` under sudo). */
  requestedBy: string;
}

/** What a candidate's approvals must bind: its full artifact as recorded now and its gates' digest. */
export function approvalSubject(
  candidate: { id: number; requestedBy: string },
  full: { sha256: string; manifestSha256: string },
  gatesDigest: string,
): ApprovalSubject {
  return {
    candidateId: candidate.id,
    artifactSha256: full.sha256,
    manifestSha256: full.manifestSha256,
    gatesDigest,
    requestedBy: candidate.requestedBy,
  };
}

/** An approver's public key as the site config gives it, or why it could not be read. */
export type ApproverKey = { key: KeyObject } | { problem: string };

export interface CountedApproval {
  approval: number;
  approver: string;
}

export interface RefusedApproval {
  approval: number;
  approver: string;
  verdict: ApprovalRecord["verdict"];
  reason: string;
}

export interface PolicyVerdict {
  target: string;
  /** Approvals the policy requires. */
  needed: number;
  /** Distinct approvers whose approvals count, one entry each. */
  counted: CountedApproval[];
  /** Approvals (and rejections) that do not count, each with why. */
  refused: RefusedApproval[];
  /** A standing rejection (valid or not, a rejection on record stops the candidate). */
  rejectedBy: string[];
  ok: boolean;
}

/** The login a requester string names: `alice (as root)` → `alice`. */
export function requesterLogin(requestedBy: string): string {
  return requestedBy.replace(/ \(as [^)]*\)$/, "");
}

/** Why one standing approval does not bind `subject`, or undefined when it does. */
export function approvalProblem(
  a: ApprovalRecord,
  subject: ApprovalSubject,
  keys: ReadonlyMap<string, ApproverKey>,
): string | undefined {
  const found = keys.get(a.approver);
  if (!found) return `${a.approver} is not an approver in the site config`;
  if ("problem" in found) return found.problem;
  if (a.signature === null || a.keyId === null) return "it is not signed";
  const fingerprint = keyFingerprint(found.key);
  if (a.keyId !== fingerprint)
    return `it was signed with key ${a.keyId.slice(0, 16)}…, not ${a.approver}'s key (${fingerprint.slice(0, 16)}…)`;
  if (a.candidateId !== subject.candidateId) return `it is for candidate ${a.candidateId}`;
  if (!verifyDetached(approvalSigningPayload(a), a.signature, found.key))
    return "its signature does not verify over its fields (the record was forged or edited)";
  if (a.artifactSha256 !== subject.artifactSha256)
    return `it approves the artifact ${a.artifactSha256}, not the candidate's ${subject.artifactSha256}`;
  if (a.manifestSha256 !== subject.manifestSha256)
    return `it approves the manifest ${a.manifestSha256.slice(0, 16)}…, which is now ${subject.manifestSha256.slice(0, 16)}…`;
  if (a.gatesDigest !== subject.gatesDigest)
    return "the gates changed since it was given (its gates digest is not theirs now)";
  return undefined;
}

/** Decide whether the candidate's standing approvals satisfy `policy` for `target`. */
export function evaluateApprovals(input: {
  target: string;
  policy: ApprovalPolicy;
  subject: ApprovalSubject;
  /** The candidate's approvals and rejections that are not voided. */
  approvals: readonly ApprovalRecord[];
  /** Every site approver's public key, by name. */
  keys: ReadonlyMap<string, ApproverKey>;
}): PolicyVerdict {
  const { policy, subject } = input;
  const counted = new Map<string, CountedApproval>();
  const refused: RefusedApproval[] = [];
  const rejectedBy: string[] = [];
  const requester = requesterLogin(subject.requestedBy);
  for (const a of input.approvals) {
    if (a.voidedAt !== null) continue;
    if (a.verdict === "reject") {
      rejectedBy.push(a.approver);
      continue;
    }
    const refuse = (reason: string) =>
      refused.push({ approval: a.id, approver: a.approver, verdict: a.verdict, reason });
    const problem = approvalProblem(a, subject, input.keys);
    if (problem) refuse(problem);
    else if (!policy.approvers.includes(a.approver))
      refuse(
        `${input.target}'s policy does not allow ${a.approver} (allowed: ${policy.approvers.join(", ")})`,
      );
    else if (!policy.requesterMayApprove && a.approver === requester)
      refuse(
        `${a.approver} started this update, and ${input.target}'s policy does not let the requester approve`,
      );
    else if (!counted.has(a.approver)) counted.set(a.approver, { approval: a.id, approver: a.approver });
  }
  return {
    target: input.target,
    needed: policy.approvals,
    counted: [...counted.values()],
    refused,
    rejectedBy,
    ok: rejectedBy.length === 0 && counted.size >= policy.approvals,
  };
}

/** One line per reason a verdict is not ok, for an error's details. */
export function verdictShortfall(v: PolicyVerdict): string[] {
  const lines: string[] = [];
  if (v.rejectedBy.length > 0) lines.push(`rejected by ${v.rejectedBy.join(", ")}`);
  if (v.counted.length < v.needed) {
    const have = v.counted.map((c) => c.approver);
    lines.push(
      `${v.target} needs ${v.needed} approval${v.needed === 1 ? "" : "s"} by different approvers; ${have.length} valid${have.length ? ` (${have.join(", ")})` : ""}: ${v.needed - have.length} missing`,
    );
  }
  for (const r of v.refused)
    lines.push(`approval ${r.approval} by ${r.approver} does not count: ${r.reason}`);
  return lines;
}
