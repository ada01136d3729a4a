/**
 * An open store: a typed Kysely handle over SQLite or PostgreSQL, and transactions that the
 * table modules compose (a state change and its audit row commit together or not at all).
 */
import type { Kysely } from "kysely";
import type { Backend } from "./backend.js";
import type { Database } from "./schema.js";

export class Store {
  private constructor(
    readonly db: Kysely<Database>,
    readonly backend: Backend,
    /** The store as messages name it (no password). */
    readonly description: string,
    private readonly inTransaction: boolean,
  ) {}

  static over(db: Kysely<Database>, backend: Backend, description: string): Store {
    return new Store(db, backend, description, false);
  }

  /**
   * Run `fn` in one transaction; inside a transaction, `fn` joins it. On SQLite a transaction
   * holds the write lock from its start, so keep them short.
   */
  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    return this.db.transaction().execute((trx) => fn(new Store(trx, this.backend, this.description, true)));
  }

  /** Inside a transaction: hold `key` against every other process until the transaction ends. */
  async lock(key: string): Promise<void> {
    if (!this.inTransaction) throw new Error(`store.lock(${key}) outside a transaction`);
    await this.backend.lock(this.db as Kysely<unknown>, key);
  }

  async close(): Promise<void> {
    if (this.inTransaction) throw new Error("store.close() inside a transaction");
    await this.db.destroy();
  }
}

/** Now, as the store writes timestamps: ISO 8601 in UTC with milliseconds. */
export function isoNow(): string {
  return new Date().toISOString();
}
