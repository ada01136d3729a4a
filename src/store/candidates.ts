/**
 * The candidates table: updates of a published layer that compat built, on their way to a target.
 * Every state change goes through `transitionCandidate` (the legal moves are in
 * candidate-states.ts) and is audited in the same transaction.
 */
import type { Selectable } from "kysely";
import { InputError, ValidationError } from "../errors.js";
import { voidApprovals } from "./approvals.js";
import { appendAudit } from "./audit.js";
import { assertTransition, type CandidateState } from "./candidate-states.js";
import { fromJsonText, type JsonValue, toJsonText } from "./json.js";
import type { CandidatesTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export interface Candidate {
  id: number;
  layer: string;
  arch: string;
  /** The target (site config name) this candidate updates. */
  target: string;
  basePublicationId: number | null;
  baseSha256: string | null;
  state: CandidateState;
  fullSha256: string | null;
  deltaSha256: string | null;
  packageDiff: JsonValue | null;
  reason: string | null;
  requestedBy: string;
  runId: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewCandidate {
  layer: string;
  arch: string;
  target: string;
  basePublicationId?: number;
  baseSha256?: string;
  reason?: string;
  requestedBy: string;
  runId?: number;
}

/** A new candidate, `building`; the layer must be registered (registerLayer). */
export async function createCandidate(store: Store, c: NewCandidate): Promise<Candidate> {
  return store.transaction(async (tx) => {
    const now = isoNow();
    const row = await tx.db
      .insertInto("candidates")
      .values({
        layer: c.layer,
        arch: c.arch,
        target: c.target,
        base_publication_id: c.basePublicationId ?? null,
        base_sha256: c.baseSha256 ?? null,
        state: "building",
        full_sha256: null,
        delta_sha256: null,
        package_diff: null,
        reason: c.reason ?? null,
        requested_by: c.requestedBy,
        run_id: c.runId ?? null,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(tx, {
      actor: c.requestedBy,
      action: "candidate.created",
      subject: `candidate:${row.id}`,
      detail: {
        layer: c.layer,
        arch: c.arch,
        target: c.target,
        baseSha256: c.baseSha256 ?? null,
        reason: c.reason ?? null,
      },
    });
    return toCandidate(row);
  });
}

/** Move a candidate to `to`; IllegalTransitionError (exit 3) when its current state does not lead there. */
export async function transitionCandidate(
  store: Store,
  id: number,
  to: CandidateState,
  by: { actor: string; reason?: string },
): Promise<Candidate> {
  return store.transaction(async (tx) => {
    await tx.lock(`candidate:${id}`);
    const current = await requireCandidate(tx, id);
    assertTransition(id, current.state, to);
    const row = await tx.db
      .updateTable("candidates")
      .set({ state: to, updated_at: isoNow() })
      .where("id", "=", id)
      .where("state", "=", current.state)
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(tx, {
      actor: by.actor,
      action: `candidate.${to}`,
      subject: `candidate:${id}`,
      detail: { from: current.state, to, reason: by.reason ?? null },
    });
    return toCandidate(row);
  });
}

/**
 * Set what a (re)build of the candidate made: its artifacts and package diff. Only while it is
 * `building`; approvals given to an earlier build are voided (a new build needs a new approval).
 */
export async function setCandidateBuild(
  store: Store,
  id: number,
  build: { fullSha256: string; deltaSha256?: string; packageDiff: JsonValue; actor: string },
): Promise<Candidate> {
  return store.transaction(async (tx) => {
    await tx.lock(`candidate:${id}`);
    const current = await requireCandidate(tx, id);
    if (current.state !== "building")
      throw new ValidationError(
        `candidate ${id} is ${current.state}: only a building candidate takes a build's artifacts`,
      );
    const row = await tx.db
      .updateTable("candidates")
      .set({
        full_sha256: build.fullSha256,
        delta_sha256: build.deltaSha256 ?? null,
        package_diff: toJsonText(build.packageDiff),
        updated_at: isoNow(),
      })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(tx, {
      actor: build.actor,
      action: "candidate.built",
      subject: `candidate:${id}`,
      detail: { fullSha256: build.fullSha256, deltaSha256: build.deltaSha256 ?? null },
    });
    await voidApprovals(tx, id, { actor: build.actor, reason: "the candidate was rebuilt" });
    return toCandidate(row);
  });
}

export async function getCandidate(store: Store, id: number): Promise<Candidate | undefined> {
  const row = await store.db.selectFrom("candidates").selectAll().where("id", "=", id).executeTakeFirst();
  return row && toCandidate(row);
}

/** The candidate, or InputError (exit 2) when there is none with that id. */
export async function requireCandidate(store: Store, id: number): Promise<Candidate> {
  const found = await getCandidate(store, id);
  if (!found) throw new InputError(`no candidate ${id} in the store ${store.description}`);
  return found;
}

export interface CandidateFilter {
  state?: readonly CandidateState[];
  layer?: string;
  arch?: string;
  target?: string;
  limit?: number;
}

/** Newest first. */
export async function listCandidates(store: Store, filter: CandidateFilter = {}): Promise<Candidate[]> {
  let q = store.db.selectFrom("candidates").selectAll();
  if (filter.state !== undefined && filter.state.length > 0) q = q.where("state", "in", filter.state);
  if (filter.layer !== undefined) q = q.where("layer", "=", filter.layer);
  if (filter.arch !== undefined) q = q.where("arch", "=", filter.arch);
  if (filter.target !== undefined) q = q.where("target", "=", filter.target);
  const rows = await q
    .orderBy("id", "desc")
    .limit(filter.limit ?? 100)
    .execute();
  return rows.map(toCandidate);
}

/** Candidates whose full or delta artifact is `sha256`, newest first. */
export async function candidatesWithArtifact(store: Store, sha256: string): Promise<Candidate[]> {
  const rows = await store.db
    .selectFrom("candidates")
    .selectAll()
    .where((eb) => eb.or([eb("full_sha256", "=", sha256), eb("delta_sha256", "=", sha256)]))
    .orderBy("id", "desc")
    .execute();
  return rows.map(toCandidate);
}

function toCandidate(row: Selectable<CandidatesTable>): Candidate {
  return {
    id: row.id,
    layer: row.layer,
    arch: row.arch,
    target: row.target,
    basePublicationId: row.base_publication_id,
    baseSha256: row.base_sha256,
    state: row.state as CandidateState,
    fullSha256: row.full_sha256,
    deltaSha256: row.delta_sha256,
    packageDiff: fromJsonText(row.package_diff),
    reason: row.reason,
    requestedBy: row.requested_by,
    runId: row.run_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
