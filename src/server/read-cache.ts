/**
 * Reads kept while the store does not change. Each request asks the store for its revision (one
 * cheap query: SQLite's data_version and this connection's change count, PostgreSQL's current
 * snapshot) and uses only what was read at that same revision; anything kept from another is
 * dropped. So a write by this server, by another server on the same database, or by a CLI
 * command on the same store (compat update, approve, watch …) is seen by the very next read, as
 * without the cache: what it saves is the reading and serialising of unchanged data.
 *
 * Why a revision read first and the data after is enough: a revision is seen again only while
 * nothing commits, so data computed after reading it is that revision's data; data computed after
 * a commit is kept under the older revision, which no later request can see again.
 */
import type { Store } from "../store/store.js";

interface Entry {
  revision: string;
  value: Promise<unknown>;
  bytes: number;
}

export interface ReadCacheLimits {
  /** Most values kept (distinct URLs, tokens …); beyond, the least recently used go. Default 2,000. */
  maxEntries?: number;
  /** Most bytes of serialised answers kept; beyond, the least recently used go. Default 64 MiB. */
  maxBytes?: number;
}

export class ReadCache {
  #revision: string | undefined;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  readonly #maxEntries: number;
  readonly #maxBytes: number;

  constructor(
    private readonly store: Store,
    limits: ReadCacheLimits = {},
  ) {
    this.#maxEntries = limits.maxEntries ?? 2000;
    this.#maxBytes = limits.maxBytes ?? 64 * 1024 * 1024;
  }

  /** The store's revision now (one query); what was kept at another revision is dropped. */
  async revision(): Promise<string> {
    const r = await this.store.backend.revision();
    if (r !== this.#revision) {
      this.#revision = r;
      this.#clear();
    }
    return r;
  }

  /**
   * The value of `key` at `revision`: computed by the first request that asks, shared by those
   * that ask while it is computed and after. A failure is not kept. `bytes` weighs a value (a
   * serialised answer's length) against the byte limit; a value `keep` refuses is answered but
   * not kept (an unknown token: a flood of made-up ones must not push out what is used).
   * Least recently used values go first when a limit is reached, so requests for ever new keys
   * (distinct URLs) cannot empty the cache of the dashboard everybody reads.
   */
  get<T>(
    revision: string,
    key: string,
    compute: () => Promise<T>,
    opts: { bytes?: (v: T) => number; keep?: (v: T) => boolean } = {},
  ): Promise<T> {
    const kept = this.#entries.get(key);
    if (kept && kept.revision === revision) {
      this.#entries.delete(key);
      this.#entries.set(key, kept);
      return kept.value as Promise<T>;
    }
    const value = compute();
    // only for the newest revision: a request that read an older one computes for itself
    if (revision !== this.#revision) return value;
    if (kept) this.#drop(key);
    while (this.#entries.size >= this.#maxEntries) this.#dropOldest();
    const entry: Entry = { revision, value, bytes: 0 };
    this.#entries.set(key, entry);
    value.then(
      (v) => {
        if (this.#entries.get(key) !== entry) return;
        if (opts.keep && !opts.keep(v)) return void this.#drop(key);
        if (!opts.bytes) return;
        entry.bytes = opts.bytes(v);
        this.#bytes += entry.bytes;
        while (this.#bytes > this.#maxBytes && this.#entries.size > 0) this.#dropOldest();
      },
      () => {
        if (this.#entries.get(key) === entry) this.#drop(key);
      },
    );
    return value;
  }

  #drop(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#bytes -= e.bytes;
    this.#entries.delete(key);
  }

  #dropOldest(): void {
    const oldest = this.#entries.keys().next();
    if (!oldest.done) this.#drop(oldest.value);
  }

  /** How many values are kept (tests). */
  get size(): number {
    return this.#entries.size;
  }

  #clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}
