/**
 * The same store tests on both backends: `describe.each(BACKENDS)` and, inside, `useStores(backend)`
 * gives fresh, empty stores (a SQLite file each, or a PostgreSQL database each on one throwaway
 * cluster per test file) and closes them after.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { StoreLocation } from "../../src/store/location.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/store.js";
import { type PostgresCluster, startPostgres } from "./postgres.js";

export const BACKENDS = ["sqlite", "postgres"] as const;
export type BackendUnderTest = (typeof BACKENDS)[number];

export interface StoreFixture {
  /** A new empty location (not opened yet). */
  location(): Promise<StoreLocation>;
  /** A new store, opened (migrated); closed after the file's tests. */
  fresh(): Promise<{ store: Store; location: StoreLocation }>;
  cluster(): PostgresCluster | undefined;
}

export function useStores(backend: BackendUnderTest): StoreFixture {
  let dir = "";
  let cluster: PostgresCluster | undefined;
  let n = 0;
  const open: Store[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `compat-store-${backend}-`));
    if (backend === "postgres") cluster = await startPostgres();
  });
  afterAll(async () => {
    for (const s of open) await s.close().catch(() => {});
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const location = async (): Promise<StoreLocation> => {
    n++;
    if (backend === "sqlite") return { backend: "sqlite", path: join(dir, `store-${n}`, "compat.db") };
    return { backend: "postgres", url: await cluster!.createDatabase(`store_${n}`) };
  };
  return {
    location,
    async fresh() {
      const loc = await location();
      const store = await openStore(loc, { actor: "tester" });
      open.push(store);
      return { store, location: loc };
    },
    cluster: () => cluster,
  };
}

/** Run SQL on a store behind compat's back (as an intruder or a broken disk would change it). */
export async function tamper(
  location: StoreLocation,
  statement: string,
  params: unknown[] = [],
): Promise<void> {
  if (location.backend === "sqlite") {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(location.path);
    try {
      db.prepare(statement).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: location.url });
  await client.connect();
  try {
    // the same statement text on both: `?` placeholders become $1, $2 …
    let i = 0;
    await client.query(
      statement.replace(/\?/g, () => `$${++i}`),
      params,
    );
  } finally {
    await client.end();
  }
}
