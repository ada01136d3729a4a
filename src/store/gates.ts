/**
 * The gates table: one row per gate of a candidate (checks, audit, delta, impact …) with its last
 * run's state and report. Re-running a gate counts its attempt up and voids the candidate's
 * approvals, since they were given over the earlier result. The gates' digest binds an approval
 * to exactly the results the approver saw.
 */
import { createHash } from "node:crypto";
import type { Selectable } from "kysely";
import { canonicalJson } from "../config/yaml.js";
import { ValidationError } from "../errors.js";
import { voidApprovals } from "./approvals.js";
import { appendAudit } from "./audit.js";
import { fromJsonText, type JsonValue, toJsonText } from "./json.js";
import type { GatesTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export const GATE_STATES = ["running", "passed", "failed", "error"] as const;
export type GateState = (typeof GATE_STATES)[number];

export interface GateResult {
  id: number;
  candidateId: number;
  gate: string;
  state: GateState;
  attempt: number;
  report: JsonValue | null;
  reportSha256: string | null;
  runId: number | null;
  startedAt: string;
  endedAt: string | null;
}

/** Start (or re-run) a gate of a candidate: `running`, its report cleared. */
export async function startGate(
  store: Store,
  candidateId: number,
  gate: string,
  by: { actor: string; runId?: number },
): Promise<GateResult> {
  return store.transaction(async (tx) => {
    await tx.lock(`candidate:${candidateId}`);
    const old = await tx.db
      .selectFrom("gates")
      .selectAll()
      .where("candidate_id", "=", candidateId)
      .where("gate", "=", gate)
      .executeTakeFirst();
    const values = {
      state: "running",
      attempt: (old?.attempt ?? 0) + 1,
      report: null,
      report_sha256: null,
      run_id: by.runId ?? null,
      started_at: isoNow(),
      ended_at: null,
    };
    const row = old
      ? await tx.db
          .updateTable("gates")
          .set(values)
          .where("id", "=", old.id)
          .returningAll()
          .executeTakeFirstOrThrow()
      : await tx.db
          .insertInto("gates")
          .values({ candidate_id: candidateId, gate, ...values })
          .returningAll()
          .executeTakeFirstOrThrow();
    if (old) await voidApprovals(tx, candidateId, { actor: by.actor, reason: `gate ${gate} was re-run` });
    return toGate(row);
  });
}

/** End a running gate with its verdict and report; audited. */
export async function finishGate(
  store: Store,
  candidateId: number,
  gate: string,
  result: { state: Exclude<GateState, "running">; report: JsonValue; actor: string },
): Promise<GateResult> {
  return store.transaction(async (tx) => {
    await tx.lock(`candidate:${candidateId}`);
    const reportText = toJsonText(result.report);
    const reportSha256 = createHash("sha256").update(reportText).digest("hex");
    const row = await tx.db
      .updateTable("gates")
      .set({ state: result.state, report: reportText, report_sha256: reportSha256, ended_at: isoNow() })
      .where("candidate_id", "=", candidateId)
      .where("gate", "=", gate)
      .where("state", "=", "running")
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new ValidationError(`gate ${gate} of candidate ${candidateId} is not running`);
    await appendAudit(tx, {
      actor: result.actor,
      action: `gate.${result.state}`,
      subject: `candidate:${candidateId}`,
      detail: { gate, attempt: row.attempt, reportSha256 },
    });
    return toGate(row);
  });
}

export async function listGates(store: Store, candidateId: number): Promise<GateResult[]> {
  const rows = await store.db
    .selectFrom("gates")
    .selectAll()
    .where("candidate_id", "=", candidateId)
    .orderBy("gate")
    .execute();
  return rows.map(toGate);
}

/** sha256 over every gate's id, state, attempt and report sha256, in gate order. */
export function gatesDigest(gates: readonly GateResult[]): string {
  const summary = [...gates]
    .sort((a, b) => (a.gate < b.gate ? -1 : a.gate > b.gate ? 1 : 0))
    .map((g) => ({ gate: g.gate, state: g.state, attempt: g.attempt, reportSha256: g.reportSha256 }));
  return createHash("sha256")
    .update(canonicalJson({ type: "compat-gates-v1", gates: summary }))
    .digest("hex");
}

function toGate(row: Selectable<GatesTable>): GateResult {
  return {
    id: row.id,
    candidateId: row.candidate_id,
    gate: row.gate,
    state: row.state as GateState,
    attempt: row.attempt,
    report: fromJsonText(row.report),
    // of the report as stored, not the column beside it: a report edited in the database changes
    // the gates' digest, so the approvals given over the original no longer count
    reportSha256:
      row.report === null ? row.report_sha256 : createHash("sha256").update(row.report).digest("hex"),
    runId: row.run_id,
    startedAt: row.started_at,
    endedAt: row.ended_at,
  };
}
