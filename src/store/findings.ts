/**
 * The findings table: one advisory hitting one installed package of a layer published on a
 * target, over time. A watch reports what it sees for one scope (target × layer × arch × source)
 * with `observeFindings`: new ones are opened, seen ones get their last_seen, and open ones it no
 * longer sees are resolved (with the publication that resolved them, when the caller knows it).
 */
import type { Selectable } from "kysely";
import { fromJsonText, toJsonText } from "./json.js";
import type { FindingsTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export interface FindingScope {
  target: string;
  layer: string;
  arch: string;
  source: string;
}

export interface ObservedFinding {
  advisoryId: string;
  package: string;
  installed: string;
  slot?: string | null;
  fix?: string | null;
  cves: string[];
  severity: string;
  title?: string | null;
  url?: string | null;
}

export interface FindingRecord extends FindingScope, Required<ObservedFinding> {
  id: number;
  firstSeen: string;
  lastSeen: string;
  resolvedAt: string | null;
  resolvedByPublicationId: number | null;
}

export interface Observation {
  /** New, or seen again after they had been resolved. */
  opened: FindingRecord[];
  /** Open before and still there. */
  stillOpen: FindingRecord[];
  /** Open before and gone now. */
  resolved: FindingRecord[];
}

const identity = (f: { advisoryId: string; installed: string }) => `${f.advisoryId}\0${f.installed}`;

/**
 * Record one complete audit of a scope. A finding gone is resolved by `publicationId` when given,
 * or by `publication` when that happened after the finding was last seen (what the target holds
 * now replaced what the finding was seen on); otherwise by nothing (the advisory changed).
 */
export async function observeFindings(
  store: Store,
  scope: FindingScope,
  observed: readonly ObservedFinding[],
  opts: { at?: string; publicationId?: number; publication?: { id: number; at: string } } = {},
): Promise<Observation> {
  const at = opts.at ?? isoNow();
  return store.transaction(async (tx) => {
    await tx.lock(`findings:${scope.target}:${scope.layer}:${scope.arch}:${scope.source}`);
    const known = new Map(
      (
        await tx.db
          .selectFrom("findings")
          .selectAll()
          .where("target", "=", scope.target)
          .where("layer", "=", scope.layer)
          .where("arch", "=", scope.arch)
          .where("source", "=", scope.source)
          .execute()
      ).map((row) => [identity({ advisoryId: row.advisory_id, installed: row.installed }), row]),
    );
    const out: Observation = { opened: [], stillOpen: [], resolved: [] };
    const seen = new Set<string>();
    // open findings seen again as they were: one UPDATE for all of them (a layer can have hundreds)
    const unchanged: Selectable<FindingsTable>[] = [];
    for (const f of observed) {
      const key = identity(f);
      if (seen.has(key)) continue;
      seen.add(key);
      const details = {
        package: f.package,
        slot: f.slot ?? null,
        fix: f.fix ?? null,
        cves: toJsonText([...f.cves].sort()),
        severity: f.severity,
        title: f.title ?? null,
        url: f.url ?? null,
      };
      const old = known.get(key);
      if (old && old.resolved_at === null && sameDetails(old, details)) {
        unchanged.push(old);
        continue;
      }
      if (old) {
        const reopened = old.resolved_at !== null;
        const row = await tx.db
          .updateTable("findings")
          .set({ ...details, last_seen: at, resolved_at: null, resolved_by_publication_id: null })
          .where("id", "=", old.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        (reopened ? out.opened : out.stillOpen).push(toFinding(row));
        continue;
      }
      const row = await tx.db
        .insertInto("findings")
        .values({
          ...scope,
          advisory_id: f.advisoryId,
          installed: f.installed,
          ...details,
          last_seen: at,
          first_seen: at,
          resolved_at: null,
          resolved_by_publication_id: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      out.opened.push(toFinding(row));
    }
    for (let i = 0; i < unchanged.length; i += 500) {
      const ids = unchanged.slice(i, i + 500).map((r) => r.id);
      await tx.db.updateTable("findings").set({ last_seen: at }).where("id", "in", ids).execute();
    }
    for (const old of unchanged) out.stillOpen.push(toFinding({ ...old, last_seen: at }));
    for (const [key, old] of known) {
      if (seen.has(key) || old.resolved_at !== null) continue;
      const row = await tx.db
        .updateTable("findings")
        .set({
          resolved_at: at,
          resolved_by_publication_id:
            opts.publicationId ??
            (opts.publication && opts.publication.at > old.last_seen ? opts.publication.id : null),
        })
        .where("id", "=", old.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      out.resolved.push(toFinding(row));
    }
    await countOpenFindingsOf(tx, scope);
    return out;
  });
}

export interface FindingFilter {
  target?: string;
  layer?: string;
  arch?: string;
  source?: string;
  severity?: readonly string[];
  /** true: only open; false: only resolved; undefined: both. */
  open?: boolean;
  limit?: number;
}

/** Newest first seen first. */
export async function listFindings(store: Store, filter: FindingFilter = {}): Promise<FindingRecord[]> {
  let q = store.db.selectFrom("findings").selectAll();
  if (filter.target !== undefined) q = q.where("target", "=", filter.target);
  if (filter.layer !== undefined) q = q.where("layer", "=", filter.layer);
  if (filter.arch !== undefined) q = q.where("arch", "=", filter.arch);
  if (filter.source !== undefined) q = q.where("source", "=", filter.source);
  if (filter.severity !== undefined && filter.severity.length > 0)
    q = q.where("severity", "in", filter.severity);
  if (filter.open === true) q = q.where("resolved_at", "is", null);
  if (filter.open === false) q = q.where("resolved_at", "is not", null);
  const rows = await q
    .orderBy("first_seen", "desc")
    .orderBy("id", "desc")
    .limit(filter.limit ?? 1000)
    .execute();
  return rows.map(toFinding);
}

/**
 * Count the open findings of one observation scope (or, without one, of the whole store) again
 * into finding_counts. observeFindings does it for its scope in its transaction; a store filled
 * behind compat's back (a benchmark's bulk insert) is counted with this.
 */
export async function countOpenFindingsOf(store: Store, scope?: FindingScope): Promise<void> {
  await store.transaction(async (tx) => {
    let stale = tx.db.deleteFrom("finding_counts");
    let open = tx.db
      .selectFrom("findings")
      .select(["target", "layer", "arch", "source", "severity", (eb) => eb.fn.countAll<number>().as("open")])
      .where("resolved_at", "is", null);
    if (scope) {
      stale = stale
        .where("target", "=", scope.target)
        .where("layer", "=", scope.layer)
        .where("arch", "=", scope.arch)
        .where("source", "=", scope.source);
      open = open
        .where("target", "=", scope.target)
        .where("layer", "=", scope.layer)
        .where("arch", "=", scope.arch)
        .where("source", "=", scope.source);
    }
    await stale.execute();
    await tx.db
      .insertInto("finding_counts")
      .columns(["target", "layer", "arch", "source", "severity", "open"])
      .expression(open.groupBy(["target", "layer", "arch", "source", "severity"]))
      .execute();
  });
}

/** Open findings counted by layer and severity (the dashboard's cells). */
export async function countOpenFindings(
  store: Store,
): Promise<Array<{ layer: string; severity: string; count: number }>> {
  const rows = await store.db
    .selectFrom("findings")
    .select(["layer", "severity", (eb) => eb.fn.countAll<number>().as("count")])
    .where("resolved_at", "is", null)
    .groupBy(["layer", "severity"])
    .orderBy("layer")
    .orderBy("severity")
    .execute();
  return rows.map((r) => ({ layer: r.layer, severity: r.severity, count: Number(r.count) }));
}

function sameDetails(
  row: Selectable<FindingsTable>,
  d: {
    package: string;
    slot: string | null;
    fix: string | null;
    cves: string;
    severity: string;
    title: string | null;
    url: string | null;
  },
): boolean {
  return (
    row.package === d.package &&
    row.slot === d.slot &&
    row.fix === d.fix &&
    row.cves === d.cves &&
    row.severity === d.severity &&
    row.title === d.title &&
    row.url === d.url
  );
}

function toFinding(row: Selectable<FindingsTable>): FindingRecord {
  return {
    id: row.id,
    target: row.target,
    layer: row.layer,
    arch: row.arch,
    source: row.source,
    advisoryId: row.advisory_id,
    package: row.package,
    installed: row.installed,
    slot: row.slot,
    fix: row.fix,
    cves: fromJsonText<string[]>(row.cves),
    severity: row.severity,
    title: row.title,
    url: row.url,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    resolvedAt: row.resolved_at,
    resolvedByPublicationId: row.resolved_by_publication_id,
  };
}
