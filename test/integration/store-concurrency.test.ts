/**
 * Several processes writing one store at the same moment, on SQLite and on PostgreSQL: the audit
 * chain never forks, no append is lost, and a new store is migrated exactly once.
 */
import { describe, expect, it } from "vitest";
import { listAudit, verifyAuditLog } from "../../src/store/audit.js";
import { openStore } from "../../src/store/open.js";
import { concurrentAppends } from "../helpers/audit-writers.js";
import { BACKENDS, useStores } from "../helpers/stores.js";

describe.each(BACKENDS)("concurrent writers on %s", (backend) => {
  const stores = useStores(backend);

  it("three processes opening a new store and appending at once keep one intact chain", async () => {
    const location = await stores.location(); // not opened: the writers race to migrate it
    const writers = 3;
    const each = 150;
    // each writer goes on past `each` rows until it has seen the others' rows: they overlap however
    // the machine schedules them
    const results = await concurrentAppends(location, writers, each, { interleave: true });
    for (const r of results) {
      expect(r.status, r.stderr).toBe(0);
      expect(r.appended).toBeGreaterThanOrEqual(each);
    }
    const total = results.reduce((n, r) => n + r.appended, 0);

    const store = await openStore(location);
    try {
      const verification = await verifyAuditLog(store);
      expect(verification).toMatchObject({ ok: true, rows: 1 + total });
      const entries = await listAudit(store);
      expect(entries.filter((e) => e.action === "store.migrated")).toHaveLength(1);
      // every writer's rows are there, in its own order, interleaved with the others'
      for (const r of results) {
        const mine = entries.filter((e) => e.subject === `writer:${r.name}`).map((e) => e.detail.i);
        expect(mine).toEqual(Array.from({ length: r.appended }, (_, i) => i));
      }
      const firstOfEach = results.map((r) => entries.findIndex((e) => e.subject === `writer:${r.name}`));
      const lastOfEach = results.map((r) => entries.findLastIndex((e) => e.subject === `writer:${r.name}`));
      // they really overlapped: some writer started before another finished
      expect(Math.min(...lastOfEach)).toBeGreaterThan(Math.max(...firstOfEach));
    } finally {
      await store.close();
    }
  });
});
