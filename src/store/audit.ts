/**
 * The audit log: append-only, hash-chained. Row n carries the sha256 of row n-1 (`prev_sha256`;
 * the first row names GENESIS) and its own sha256 over a canonical encoding of its content
 * including that link, so editing, removing or inserting any row but the newest breaks the chain
 * at or after it, and `verifyAuditLog` names the first row where it breaks.
 *
 * Appends serialise across processes (the backend's lock inside the transaction; SQLite's write
 * transactions are exclusive anyway), and `prev_sha256` is UNIQUE, so two writers can never fork
 * the chain: a second row naming the same predecessor is refused by the database itself.
 *
 * The chain proves the log was not changed behind compat's back; it cannot show that its newest
 * rows were cut off. Keep the head (`compat log --verify --json` prints it) somewhere else to
 * detect that.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../config/yaml.js";
import type { JsonValue } from "./json.js";
import type { AuditLogTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export const GENESIS = "0".repeat(64);
const ENCODING = "compat-audit-v1";

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  /** Dotted verb, e.g. `candidate.approved`, `publication.publish`, `store.migrated`. */
  action: string;
  /** What it was done to, e.g. `candidate:12`, `target:production`, `store`. */
  subject: string;
  detail: Record<string, JsonValue>;
  prevSha256: string;
  sha256: string;
}

export interface NewAuditEntry {
  actor: string;
  action: string;
  subject: string;
  detail?: Record<string, JsonValue>;
}

/** The sha256 of a row: over its content as stored (detail as its exact text), and its link. */
export function auditRowSha256(row: Omit<AuditLogTable, "sha256">): string {
  const encoded = canonicalJson([
    ENCODING,
    row.seq,
    row.at,
    row.actor,
    row.action,
    row.subject,
    row.detail,
    row.prev_sha256,
  ]);
  return createHash("sha256").update(encoded).digest("hex");
}

/** Append one entry; inside a transaction it commits (or not) with the rest of that transaction. */
export async function appendAudit(store: Store, entry: NewAuditEntry): Promise<AuditEntry> {
  return store.transaction(async (tx) => {
    await tx.lock("audit_log");
    const last = await tx.db
      .selectFrom("audit_log")
      .select(["seq", "sha256"])
      .orderBy("seq", "desc")
      .limit(1)
      .executeTakeFirst();
    const row = {
      seq: (last?.seq ?? 0) + 1,
      at: isoNow(),
      actor: entry.actor,
      action: entry.action,
      subject: entry.subject,
      detail: canonicalJson(entry.detail ?? {}),
      prev_sha256: last?.sha256 ?? GENESIS,
    };
    const full = { ...row, sha256: auditRowSha256(row) };
    await tx.db.insertInto("audit_log").values(full).execute();
    return toEntry(full);
  });
}

export interface AuditQuery {
  subject?: string;
  /** Only entries older than this row. */
  before?: number;
  /** Only the newest `limit` entries (still printed oldest first). */
  limit?: number;
}

/** Entries oldest first. */
export async function listAudit(store: Store, query: AuditQuery = {}): Promise<AuditEntry[]> {
  let q = store.db.selectFrom("audit_log").selectAll();
  if (query.subject !== undefined) q = q.where("subject", "=", query.subject);
  if (query.before !== undefined) q = q.where("seq", "<", query.before);
  if (query.limit !== undefined) q = q.orderBy("seq", "desc").limit(query.limit);
  else q = q.orderBy("seq", "asc");
  const rows = await q.execute();
  if (query.limit !== undefined) rows.reverse();
  return rows.map(toEntry);
}

export type AuditVerification =
  | { ok: true; rows: number; head: { seq: number; sha256: string } }
  | { ok: false; rows: number; firstBad: { seq: number; reason: string } };

const VERIFY_BATCH = 2000;

/**
 * Walk the whole chain, oldest first, recomputing every row's sha256 and link. An empty log is
 * not "intact": nothing was checked (a store always has its migration row).
 */
export async function verifyAuditLog(store: Store): Promise<AuditVerification> {
  let checked = 0;
  let prev: { seq: number; sha256: string } | undefined;
  for (;;) {
    let q = store.db.selectFrom("audit_log").selectAll();
    if (prev !== undefined) q = q.where("seq", ">", prev.seq);
    const batch = await q.orderBy("seq", "asc").limit(VERIFY_BATCH).execute();
    for (const row of batch) {
      const problem = rowProblem(row, prev);
      if (problem) return { ok: false, rows: checked, firstBad: { seq: row.seq, reason: problem } };
      checked++;
      prev = { seq: row.seq, sha256: row.sha256 };
    }
    if (batch.length < VERIFY_BATCH) break;
  }
  if (prev === undefined)
    return {
      ok: false,
      rows: 0,
      firstBad: { seq: 0, reason: "the audit log is empty: there was nothing to verify" },
    };
  return { ok: true, rows: checked, head: prev };
}

function rowProblem(
  row: AuditLogTable,
  prev: { seq: number; sha256: string } | undefined,
): string | undefined {
  const expectedSeq = prev === undefined ? 1 : prev.seq + 1;
  if (row.seq !== expectedSeq)
    return prev === undefined
      ? `the log starts at row ${row.seq}: rows 1 to ${row.seq - 1} are missing`
      : `rows ${expectedSeq} to ${row.seq - 1} are missing (row ${prev.seq} is followed by row ${row.seq})`;
  const expectedPrev = prev?.sha256 ?? GENESIS;
  if (row.prev_sha256 !== expectedPrev)
    return prev === undefined
      ? `the first row names ${short(row.prev_sha256)} as its predecessor instead of starting the chain`
      : `it names ${short(row.prev_sha256)} as row ${prev.seq}'s sha256, but row ${prev.seq} hashes to ${short(expectedPrev)}: row ${prev.seq} was replaced`;
  const actual = auditRowSha256(row);
  if (actual !== row.sha256)
    return `its content hashes to ${short(actual)} but it records ${short(row.sha256)}: the row was edited`;
  return undefined;
}

const short = (sha: string) => `${sha.slice(0, 16)}…`;

function toEntry(row: AuditLogTable): AuditEntry {
  let detail: Record<string, JsonValue>;
  try {
    detail = JSON.parse(row.detail) as Record<string, JsonValue>;
  } catch {
    // an edited row can hold anything: show it as it is (verify names it)
    detail = { unreadable: row.detail };
  }
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    detail,
    prevSha256: row.prev_sha256,
    sha256: row.sha256,
  };
}
