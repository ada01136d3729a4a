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
    const results = await concurrentAppends(location, writers, each);
    for (const r of results) expect(r, r.stderr).toMatchObject({ status: 0, appended: each });

    const store = await openStore(location);
    try {
      const verification = await verifyAuditLog(store);
      expect(verification).toMatchObject({ ok: true, rows: 1 + writers * each });
      const entries = await listAudit(store);
      expect(entries.filter((e) => e.action === "store.migrated")).toHaveLength(1);
      // every writer's rows are there, in its own order, interleaved with the others'
      for (const r of results) {
        const mine = entries.filter((e) => e.subject === `writer:${r.name}`).map((e) => e.detail.i);
        expect(mine).toEqual(Array.from({ length: each }, (_, i) => i));
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
