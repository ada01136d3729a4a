/**
 * What differs between SQLite and PostgreSQL, in one place: making the Kysely dialect, the type of
 * an auto-increment key, how a writer serialises with other writers across processes, and which
 * driver errors mean "the database is not there or not usable" (exit 4) rather than a bug.
 * Everything else (tables, queries, migrations) is written once with Kysely.
 */
import type Database from "better-sqlite3";
import {
  type ColumnDefinitionBuilder,
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Kysely,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
} from "kysely";
import type pg from "pg";
import { log } from "../log.js";

export type BackendName = "sqlite" | "postgres";

export interface Backend {
  readonly name: BackendName;
  readonly dialect: Dialect;
  /** Make an `integer` column the table's auto-increment primary key. */
  idColumn(col: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  /**
   * Inside a transaction: wait until no other transaction (in any process) holds `key`, then hold
   * it until this transaction ends. SQLite's write transactions are already exclusive (they begin
   * IMMEDIATE), so there it is nothing; PostgreSQL takes a transaction-scoped advisory lock.
   */
  lock(trx: Kysely<unknown>, key: string): Promise<void>;
  /** Whether a driver error says the store itself is unusable (gone, locked, full, corrupt). */
  isUnavailable(error: unknown): boolean;
  /** Settings that change the database itself, applied once it is known to be compat's. */
  configure(): Promise<void>;
  /**
   * The store's revision: a text that is the same on two calls only when nothing was committed
   * to the database in between, by this process or any other. One cheap query (no table is read).
   */
  revision(): Promise<string>;
}

/** How long a SQLite writer waits for another process's write transaction before giving up. */
export const SQLITE_BUSY_TIMEOUT_MS = 15_000;

/**
 * SQLite: one better-sqlite3 connection with foreign keys on, in WAL mode once the file is known
 * to be a compat store (readers never wait for the writer). Every transaction begins IMMEDIATE, so it takes the write lock at its start and
 * waits for it (busy timeout) instead of failing when it upgrades from reading to writing.
 */
export function sqliteBackend(database: Database.Database): Backend {
  let revisionQuery: Database.Statement<[], { c: number; v: number }> | undefined;
  database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  database.pragma("foreign_keys = ON");
  return {
    name: "sqlite",
    dialect: new ImmediateSqliteDialect({ database }),
    idColumn: (col) => col.primaryKey().autoIncrement(),
    lock: async () => {},
    // data_version changes when another connection commits; total_changes counts this
    // connection's own writes, rolled back ones included (a change too many costs a read, never a
    // stale one). Read past Kysely's connection: in the middle of one of this process's
    // transactions it counts that transaction's changes so far, and a read made after is queued
    // behind the transaction, so what is kept under that count is what the transaction left.
    revision: async () => {
      revisionQuery ??= database.prepare<[], { c: number; v: number }>(
        "select total_changes() as c, (select data_version from pragma_data_version) as v",
      );
      const row = revisionQuery.get()!;
      return `${row.v}.${row.c}`;
    },
    // WAL is written into the file's header: only for a file that is compat's
    configure: async () => {
      database.pragma("journal_mode = WAL");
    },
    isUnavailable: (e) =>
      typeof (e as { code?: unknown })?.code === "string" &&
      /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CORRUPT|NOTADB|READONLY|CANTOPEN|PERM|AUTH|PROTOCOL)/.test(
        (e as { code: string }).code,
      ),
  };
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

/** SQLite's DDL is transactional: migrations run in one (IMMEDIATE) transaction, so two processes opening a new store do not both migrate it. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): SqliteDriver {
    return new ImmediateSqliteDriver(this.#config);
  }
  override createQueryCompiler(): SqliteQueryCompiler {
    return new SqliteQueryCompiler();
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
  override createIntrospector(db: Kysely<unknown>): SqliteIntrospector {
    return new SqliteIntrospector(db);
  }
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * PostgreSQL: a pool of `pg` connections; bigint and count(*) come back as numbers (sizes fit in
 * 2^53). `pg` is loaded only for a PostgreSQL store.
 */
export async function postgresPool(url: string, connectTimeoutMs: number): Promise<pg.Pool> {
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({
    connectionString: url,
    max: 8,
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis: 10_000,
    application_name: "compat",
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID || oid === NUMERIC_OID
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
    },
  });
  // an idle connection the server dropped: the next query reconnects; without a handler it would crash the process
  pool.on("error", (e) => log.debug(`store: idle PostgreSQL connection lost: ${e.message}`));
  return pool;
}

export function postgresBackend(pool: pg.Pool): Backend {
  return {
    name: "postgres",
    dialect: new PostgresDialect({ pool }),
    idColumn: (col) => col.primaryKey().generatedByDefaultAsIdentity(),
    configure: async () => {},
    // two equal snapshots (xmin:xmax:in-progress xids) see the same committed transactions, so the
    // same data; any write transaction that starts or ends anywhere in the cluster changes it
    // (a prepared statement on each connection of the pool: parsed once)
    revision: async () => {
      const r = await pool.query<{ s: string }>({
        name: "compat-store-revision",
        text: "select pg_current_snapshot()::text as s",
      });
      return r.rows[0]!.s;
    },
    lock: async (trx, key) => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${`compat:${key}`}, 0))`.execute(trx);
    },
    isUnavailable: (e) => {
      const code = (e as { code?: unknown })?.code;
      if (typeof code === "string") {
        // connection (08), resources (53), operator intervention (57), system (58), auth (28), no database (3D)
        if (/^(08|53|57|58|28|3D)/.test(code)) return true;
        if (/^E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|NOTFOUND|AI_AGAIN)$/.test(code))
          return true;
      }
      return (
        e instanceof Error && /Connection terminated|timeout exceeded when trying to connect/.test(e.message)
      );
    },
  };
}
