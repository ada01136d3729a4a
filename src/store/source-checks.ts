/**
 * The source_checks table: each advisory source's last verdict on one published layer (ok, stale,
 * no-data, failed). `recordSourceCheck` says whether the verdict changed, so a watch tells people
 * once when a source goes stale or loses its data, and once when it recovers, not every run.
 */
import { isoNow, type Store } from "./store.js";

export interface SourceCheckScope {
  target: string;
  layer: string;
  arch: string;
  source: string;
}

export interface SourceCheck extends SourceCheckScope {
  status: "ok" | "stale" | "no-data" | "failed";
  reason: string | null;
  asOf: string | null;
  since: string;
  checkedAt: string;
}

/** Record a verdict; `previous` is the status before (undefined the first time). */
export async function recordSourceCheck(
  store: Store,
  check: SourceCheckScope & { status: SourceCheck["status"]; reason: string | null; asOf: string | null },
  at: string = isoNow(),
): Promise<{ check: SourceCheck; previous: SourceCheck["status"] | undefined }> {
  return store.transaction(async (tx) => {
    await tx.lock(`source-check:${check.target}:${check.layer}:${check.arch}:${check.source}`);
    const old = await tx.db
      .selectFrom("source_checks")
      .selectAll()
      .where("target", "=", check.target)
      .where("layer", "=", check.layer)
      .where("arch", "=", check.arch)
      .where("source", "=", check.source)
      .executeTakeFirst();
    const since = old && old.status === check.status ? old.since : at;
    const values = { status: check.status, reason: check.reason, as_of: check.asOf, since, checked_at: at };
    if (old) await tx.db.updateTable("source_checks").set(values).where("id", "=", old.id).execute();
    else
      await tx.db
        .insertInto("source_checks")
        .values({
          target: check.target,
          layer: check.layer,
          arch: check.arch,
          source: check.source,
          ...values,
        })
        .execute();
    return {
      check: { ...check, since, checkedAt: at },
      previous: old?.status as SourceCheck["status"] | undefined,
    };
  });
}

export async function listSourceChecks(
  store: Store,
  filter: { target?: string; layer?: string } = {},
): Promise<SourceCheck[]> {
  let q = store.db.selectFrom("source_checks").selectAll();
  if (filter.target !== undefined) q = q.where("target", "=", filter.target);
  if (filter.layer !== undefined) q = q.where("layer", "=", filter.layer);
  const rows = await q.orderBy("target").orderBy("layer").orderBy("arch").orderBy("source").execute();
  return rows.map((r) => ({
    target: r.target,
    layer: r.layer,
    arch: r.arch,
    source: r.source,
    status: r.status as SourceCheck["status"],
    reason: r.reason,
    asOf: r.as_of,
    since: r.since,
    checkedAt: r.checked_at,
  }));
}
