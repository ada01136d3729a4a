/**
 * Opening the store: connect (SQLite file or PostgreSQL), refuse a database that is not compat's,
 * apply the migrations this program has and the store lacks (recorded in the audit log), and turn
 * every way this can fail into a StoreError naming the store without its password (exit 4).
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { Kysely, type MigrationResultSet, Migrator, sql } from "kysely";
import { isCompatError } from "../errors.js";
import { currentUser } from "./actor.js";
import { appendAudit } from "./audit.js";
import { type Backend, postgresBackend, postgresPool, sqliteBackend } from "./backend.js";
import { StoreError } from "./errors.js";
import { describeStore, type StoreLocation } from "./location.js";
import { migrationNames, migrations } from "./migrations.js";
import type { Database as Tables } from "./schema.js";
import { Store } from "./store.js";

export interface OpenStoreOptions {
  /** How long to wait for PostgreSQL to accept a connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Who the migration's audit row names (default: the OS user). */
  actor?: string;
}

const OUR_TABLES = new Set([
  "layers",
  "runs",
  "artifacts",
  "candidates",
  "gates",
  "approvals",
  "publications",
  "findings",
  "finding_counts",
  "leases",
  "audit_log",
  "source_checks",
  "notifications",
  "users",
  "api_tokens",
  "sessions",
  "kysely_migration",
  "kysely_migration_lock",
]);

/** Open (creating a SQLite file and its directory when missing) and migrate the store. */
export async function openStore(location: StoreLocation, opts: OpenStoreOptions = {}): Promise<Store> {
  const description = describeStore(location);
  let backend: Backend | undefined;
  let db: Kysely<Tables> | undefined;
  try {
    backend =
      location.backend === "sqlite"
        ? sqliteBackend(openSqliteFile(location.path, description))
        : postgresBackend(await postgresPool(location.url, opts.connectTimeoutMs ?? 10_000));
    db = new Kysely<Tables>({ dialect: backend.dialect });
    await sql`select 1`.execute(db);
    const store = Store.over(db, backend, description);
    await migrate(store, opts.actor ?? currentUser());
    return store;
  } catch (e) {
    await db?.destroy().catch(() => {});
    throw openFailure(description, location, e);
  }
}

/** Open the store, run `fn`, close it; a database failure on the way is a StoreError (exit 4). */
export async function withStore<T>(
  location: StoreLocation,
  fn: (store: Store) => Promise<T>,
  opts: OpenStoreOptions = {},
): Promise<T> {
  const store = await openStore(location, opts);
  try {
    return await fn(store);
  } catch (e) {
    throw storeFailure(store, e);
  } finally {
    await store.close().catch(() => {});
  }
}

/** A driver error that says the store is unusable becomes a StoreError naming it; others pass. */
export function storeFailure(store: Store, e: unknown): unknown {
  if (isCompatError(e) || !store.backend.isUnavailable(e)) return e;
  return new StoreError(`the store ${store.description} failed: ${(e as Error).message}`, { cause: e });
}

function openSqliteFile(path: string, description: string): Database.Database {
  let kind: string | undefined;
  try {
    const st = statSync(path);
    if (!st.isFile()) kind = st.isDirectory() ? "a directory" : st.isFIFO() ? "a FIFO" : "a special file";
  } catch {
    /* missing: created below */
  }
  // a FIFO or a device would hang or feed SQLite whatever it holds
  if (kind !== undefined)
    throw new StoreError(`cannot open the store ${description}: it is ${kind}, not a SQLite file`, {
      hint: "point store: in the site config at a file, e.g. sqlite:compat-state/compat.db",
    });
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw new StoreError(
      `cannot open the store ${description}: cannot create ${dirname(path)} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
  return new Database(path);
}

async function migrate(store: Store, actor: string): Promise<void> {
  const db = store.db as unknown as Kysely<unknown>;
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  const names = new Set(
    tables.filter((t) => t.schema === undefined || t.schema === "public").map((t) => t.name),
  );
  if (names.size > 0 && !names.has("kysely_migration")) {
    const foreign = [...names].filter((n) => !OUR_TABLES.has(n)).sort();
    throw new StoreError(
      `${store.description} is a database but not a compat store (it has the tables ${[...names].sort().slice(0, 8).join(", ")}${names.size > 8 ? ", …" : ""}): compat leaves it as it is`,
      {
        hint: `give compat a database of its own${foreign.length ? "" : " (or drop the half-made tables of an interrupted first start)"}`,
      },
    );
  }
  await store.backend.configure();
  if (names.has("kysely_migration")) {
    const known = new Set(migrationNames(store.backend));
    const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    const unknown = applied.rows.map((r) => r.name).filter((n) => !known.has(n));
    if (unknown.length > 0)
      throw new StoreError(
        `the store ${store.description} was migrated by a newer compat (migration ${unknown.join(", ")} is unknown to this one)`,
        { hint: "use the compat version that manages this store, or a newer one" },
      );
  }
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(store.backend) },
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  const applied = (result.results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
  if (applied.length > 0)
    await appendAudit(store, {
      actor,
      action: "store.migrated",
      subject: "store",
      detail: { migrations: applied, backend: store.backend.name },
    });
}

function openFailure(description: string, location: StoreLocation, e: unknown): unknown {
  if (isCompatError(e)) return e;
  const err = e as { code?: string; message?: string };
  let message = err.message ?? String(e);
  if (location.backend === "postgres") {
    // a driver message never needs the password; make sure it cannot carry it
    const password = passwordOf(location.url);
    if (password) message = message.split(password).join("***");
  }
  return new StoreError(`cannot open the store ${description}: ${message}`, {
    hint: hintFor(err.code, message, location),
    cause: e,
  });
}

function hintFor(code: string | undefined, message: string, location: StoreLocation): string | undefined {
  if (location.backend === "sqlite") {
    if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT")
      return "the file is not a SQLite database, or it is damaged: restore it from a backup, or point store: elsewhere";
    if (code === "SQLITE_CANTOPEN" || code === "SQLITE_READONLY" || code === "SQLITE_PERM")
      return "check that the file and its directory exist and are writable by this user";
    return undefined;
  }
  if (code === "ECONNREFUSED") return "is PostgreSQL running and listening on that host and port?";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "the host name does not resolve";
  if (code === "28P01" || code === "28000")
    return "check the user and the password (PGPASSWORD or ~/.pgpass, as for psql) and pg_hba.conf";
  if (code === "3D000") return "create the database first (createdb), or correct its name in the URL";
  if (/password must be a string|SASL/.test(message))
    return "the server wants a password: set PGPASSWORD or add the store to ~/.pgpass";
  if (/timeout/i.test(message)) return "the server did not answer: check the host, port and firewall";
  return undefined;
}

function passwordOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.password ? decodeURIComponent(u.password) : (u.searchParams.get("password") ?? undefined);
  } catch {
    return undefined;
  }
}
