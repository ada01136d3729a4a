/**
 * The approvals table: a person's verdict on a candidate, bound to the exact artifact (its sha256
 * and its manifest's) and the gates' digest, signed with the approver's key. A rebuilt candidate
 * or a re-run gate voids the approvals given so far (voidApprovals); voided rows stay, marked.
 */
import type { Selectable } from "kysely";
import { canonicalJson } from "../config/yaml.js";
import { appendAudit } from "./audit.js";
import type { ApprovalsTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export type Verdict = "approve" | "reject";

export interface ApprovalRecord {
  id: number;
  candidateId: number;
  verdict: Verdict;
  artifactSha256: string;
  manifestSha256: string;
  gatesDigest: string;
  approver: string;
  /** Fingerprint of the key that signed it. */
  keyId: string | null;
  /** base64 ed25519 signature over approvalSigningPayload. */
  signature: string | null;
  reason: string | null;
  at: string;
  voidedAt: string | null;
  voidedBy: string | null;
  voidReason: string | null;
}

export type NewApproval = Pick<
  ApprovalRecord,
  "candidateId" | "verdict" | "artifactSha256" | "manifestSha256" | "gatesDigest" | "approver"
> & {
  keyId?: string;
  signature?: string;
  reason?: string;
  /** The time the approver signed; default now. */
  at?: string;
};

/** The bytes an approver signs: every field that binds the verdict, in canonical JSON. */
export function approvalSigningPayload(
  a: Pick<
    ApprovalRecord,
    | "candidateId"
    | "verdict"
    | "artifactSha256"
    | "manifestSha256"
    | "gatesDigest"
    | "approver"
    | "reason"
    | "at"
  >,
): Buffer {
  return Buffer.from(
    canonicalJson({
      type: "compat-approval-v1",
      candidate: a.candidateId,
      verdict: a.verdict,
      artifactSha256: a.artifactSha256,
      manifestSha256: a.manifestSha256,
      gatesDigest: a.gatesDigest,
      approver: a.approver,
      reason: a.reason ?? null,
      at: a.at,
    }),
  );
}

/** Record a verdict (the caller has checked the signature and the policy) and audit it. */
export async function recordApproval(store: Store, a: NewApproval): Promise<ApprovalRecord> {
  return store.transaction(async (tx) => {
    const row = await tx.db
      .insertInto("approvals")
      .values({
        candidate_id: a.candidateId,
        verdict: a.verdict,
        artifact_sha256: a.artifactSha256,
        manifest_sha256: a.manifestSha256,
        gates_digest: a.gatesDigest,
        approver: a.approver,
        key_id: a.keyId ?? null,
        signature: a.signature ?? null,
        reason: a.reason ?? null,
        at: a.at ?? isoNow(),
        voided_at: null,
        voided_by: null,
        void_reason: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(tx, {
      actor: a.approver,
      action: a.verdict === "approve" ? "candidate.approval" : "candidate.rejection",
      subject: `candidate:${a.candidateId}`,
      detail: {
        approval: row.id,
        artifactSha256: a.artifactSha256,
        manifestSha256: a.manifestSha256,
        gatesDigest: a.gatesDigest,
        keyId: a.keyId ?? null,
        reason: a.reason ?? null,
      },
    });
    return toApproval(row);
  });
}

/** The candidate's approvals and rejections, oldest first; voided ones only when asked. */
export async function listApprovals(
  store: Store,
  candidateId: number,
  opts: { includeVoided?: boolean } = {},
): Promise<ApprovalRecord[]> {
  let q = store.db.selectFrom("approvals").selectAll().where("candidate_id", "=", candidateId);
  if (!opts.includeVoided) q = q.where("voided_at", "is", null);
  const rows = await q.orderBy("id").execute();
  return rows.map(toApproval);
}

/** Void every standing approval of a candidate; audited when there was one. Returns how many. */
export async function voidApprovals(
  store: Store,
  candidateId: number,
  why: { actor: string; reason: string },
): Promise<number> {
  return store.transaction(async (tx) => {
    const voided = await tx.db
      .updateTable("approvals")
      .set({ voided_at: isoNow(), voided_by: why.actor, void_reason: why.reason })
      .where("candidate_id", "=", candidateId)
      .where("voided_at", "is", null)
      .returning("id")
      .execute();
    if (voided.length > 0)
      await appendAudit(tx, {
        actor: why.actor,
        action: "candidate.approvals-voided",
        subject: `candidate:${candidateId}`,
        detail: { approvals: voided.map((r) => r.id), reason: why.reason },
      });
    return voided.length;
  });
}

function toApproval(row: Selectable<ApprovalsTable>): ApprovalRecord {
  return {
    id: row.id,
    candidateId: row.candidate_id,
    verdict: row.verdict as Verdict,
    artifactSha256: row.artifact_sha256,
    manifestSha256: row.manifest_sha256,
    gatesDigest: row.gates_digest,
    approver: row.approver,
    keyId: row.key_id,
    signature: row.signature,
    reason: row.reason,
    at: row.at,
    voidedAt: row.voided_at,
    voidedBy: row.voided_by,
    voidReason: row.void_reason,
  };
}
