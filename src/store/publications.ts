/**
 * The publications table: what was published or rolled back where, when, by whom, from which
 * artifact. Recording is idempotent on the publisher's journal id, so recovery after a crash that
 * records the same publication again keeps one row.
 */
import { hostname } from "node:os";
import type { Selectable } from "kysely";
import { currentUser } from "./actor.js";
import { appendAudit } from "./audit.js";
import type { PublicationsTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export type PublicationAction = "publish" | "rollback";

export interface Publication {
  id: number;
  target: string;
  /** The layer's directory in the repository, e.g. `2025.06/compat/linux/x86_64`. */
  layer: string;
  action: PublicationAction;
  kind: "full" | "delta" | null;
  sha256: string | null;
  previousSha256: string | null;
  artifact: string | null;
  backup: string | null;
  candidateId: number | null;
  user: string;
  host: string;
  at: string;
  detail: string | null;
  journalId: string | null;
}

export type NewPublication = Pick<Publication, "target" | "layer" | "action"> &
  Partial<Omit<Publication, "id" | "target" | "layer" | "action">>;

/** Record a publication (user, host and time default to this process's) and audit it. */
export async function recordPublication(store: Store, p: NewPublication): Promise<Publication> {
  return store.transaction(async (tx) => {
    if (p.journalId) {
      await tx.lock(`publication-journal:${p.journalId}`);
      const old = await tx.db
        .selectFrom("publications")
        .selectAll()
        .where("journal_id", "=", p.journalId)
        .executeTakeFirst();
      if (old) return toPublication(old);
    }
    const row = await tx.db
      .insertInto("publications")
      .values({
        target: p.target,
        layer: p.layer,
        action: p.action,
        kind: p.kind ?? null,
        sha256: p.sha256 ?? null,
        previous_sha256: p.previousSha256 ?? null,
        artifact: p.artifact ?? null,
        backup: p.backup ?? null,
        candidate_id: p.candidateId ?? null,
        user: p.user ?? currentUser(),
        host: p.host ?? hostname(),
        at: p.at ?? isoNow(),
        detail: p.detail ?? null,
        journal_id: p.journalId ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(tx, {
      actor: row.user,
      action: `publication.${p.action}`,
      subject: `target:${p.target}`,
      detail: {
        publication: row.id,
        layer: p.layer,
        sha256: row.sha256,
        previousSha256: row.previous_sha256,
        kind: row.kind,
        candidate: row.candidate_id,
      },
    });
    return toPublication(row);
  });
}

/** Newest first. */
export async function listPublications(
  store: Store,
  filter: { target?: string; layer?: string; candidate?: number; limit?: number } = {},
): Promise<Publication[]> {
  let q = store.db.selectFrom("publications").selectAll();
  if (filter.candidate !== undefined) q = q.where("candidate_id", "=", filter.candidate);
  if (filter.target !== undefined) q = q.where("target", "=", filter.target);
  if (filter.layer !== undefined) q = q.where("layer", "=", filter.layer);
  const rows = await q
    .orderBy("id", "desc")
    .limit(filter.limit ?? 100)
    .execute();
  return rows.map(toPublication);
}

/** What the target holds for the layer now: its newest publication or rollback. */
export async function currentPublication(
  store: Store,
  target: string,
  layer: string,
): Promise<Publication | undefined> {
  const [newest] = await listPublications(store, { target, layer, limit: 1 });
  return newest;
}

export function toPublication(row: Selectable<PublicationsTable>): Publication {
  return {
    id: row.id,
    target: row.target,
    layer: row.layer,
    action: row.action as PublicationAction,
    kind: row.kind as Publication["kind"],
    sha256: row.sha256,
    previousSha256: row.previous_sha256,
    artifact: row.artifact,
    backup: row.backup,
    candidateId: row.candidate_id,
    user: row.user,
    host: row.host,
    at: row.at,
    detail: row.detail,
    journalId: row.journal_id,
  };
}
