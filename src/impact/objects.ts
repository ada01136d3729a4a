/**
 * Every ELF object an impact check reads, read once: by the file's state (device, inode, size,
 * mtime, ctime) for its dynamic interface, and by that interface's digest for its symbol table, so
 * a library that is the same in the published layer and in the candidate (a copy: other inodes,
 * same bytes) is looked up through one table. The read that makes a record reads the tables anyway
 * (its digest covers them) and keeps them, within a byte budget, for the lookups and the undefined
 * symbols to come: a file is opened again only when its tables were evicted. Undefined symbols are
 * decoded only for the objects being checked whose verdict is not known, and not kept.
 * Records live for one run: a file's state names its content only while nobody changes it, so what
 * is kept for later runs is keyed by content (cache.ts).
 */
import type { BigIntStats } from "node:fs";
import { ElfFormatError, type ElfInfo } from "../layer/elf.js";
import {
  readElfAbi,
  type SymbolTable,
  type UndefinedSymbol,
  type VersionNeed,
} from "../layer/elf-symbols.js";
import { StringPool } from "./string-pool.js";

export interface ElfRecord {
  kind: "elf";
  /** The file's state when read (also the loader probe's identity of the file). */
  key: string;
  digest: string;
  info: ElfInfo;
  needs: VersionNeed[];
  defines?: string[];
}

export type ObjectRecord =
  | ElfRecord
  /** Starts like ELF but is truncated or corrupt. */
  | { kind: "malformed"; key: string }
  | { kind: "unreadable"; key: string; why: string };

/** The identity of a file's content as the file system tells it: a changed file gets another key. */
export function statKey(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * Bytes of symbol tables kept at once (the most recently used; libc's always); one evicted is read
 * again when asked for. A tree's thousands of libraries would not fit, and need not.
 */
const MAX_TABLE_BYTES = 32 << 20;

export class ObjectStore {
  private readonly records = new Map<string, ObjectRecord>();
  private readonly inflight = new Map<string, Promise<ObjectRecord>>();
  /** Symbol tables by digest (null: the object has none), most recently used last. */
  private readonly tables = new Map<string, SymbolTable | null>();
  private tableBytes = 0;
  private readonly tableReads = new Map<string, Promise<SymbolTable | null | undefined>>();
  /** How many times a file was opened and parsed (what the caches save). */
  reads = 0;
  /** Where records are read: here, or on the software feed's thread (feed.ts). */
  reader: ObjectReader = readObject;
  /** Names records share (a relocated tree's one RPATH, `libc.so.6`, `GLIBC_2.2.5`), held once. */
  private readonly names = new StringPool();
  private readonly versions = new Map<string, VersionNeed["versions"][number]>();

  get(key: string): ObjectRecord | undefined {
    return this.records.get(key);
  }

  /** The record of the file at `local` (whose state is `key`), reading it unless known. */
  load(local: string, key: string): Promise<ObjectRecord> {
    const known = this.get(key);
    if (known) return Promise.resolve(known);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.read(local, key);
      this.inflight.set(key, p);
      void p.finally(() => this.inflight.delete(key));
    }
    return p;
  }

  /**
   * The undefined symbols of an object to be checked (not kept): from its tables when they were
   * read lately (its record's read kept them), else read again; undefined when the file changed.
   */
  async undefinedOf(record: ElfRecord, local: string): Promise<UndefinedSymbol[] | undefined> {
    const table = this.kept(record.digest) ?? (await this.readTable(record, local, false));
    if (table === undefined) return undefined;
    try {
      return table?.undefinedSymbols() ?? [];
    } catch (e) {
      if (e instanceof ElfFormatError || e instanceof RangeError) return undefined;
      throw e;
    }
  }

  /**
   * The symbol table of an ELF record's content, read from `local` (again only when it was evicted):
   * null when it has none, undefined when the file no longer reads as that content.
   */
  table(record: ElfRecord, local: string): Promise<SymbolTable | null | undefined> {
    const kept = this.kept(record.digest);
    if (kept !== undefined) return Promise.resolve(kept);
    let t = this.tableReads.get(record.digest);
    if (!t) {
      t = this.readTable(record, local, true);
      this.tableReads.set(record.digest, t);
      void t.finally(() => this.tableReads.delete(record.digest));
    }
    return t;
  }

  /**
   * Read a record's tables again (null: it has none), kept when `keep` says; undefined when the
   * file no longer reads as that content (a file changed is not looked up under the old content's name).
   */
  private async readTable(
    record: ElfRecord,
    local: string,
    keep: boolean,
  ): Promise<SymbolTable | null | undefined> {
    this.reads++;
    const again = await this.reader(local, record.key, true);
    if (again.record.kind !== "elf" || again.record.digest !== record.digest) return undefined;
    if (keep) this.keep(record.digest, again.table);
    return again.table ?? null;
  }

  /** The symbol table of a record when it is kept (null: it has none); undefined: ask `table`. */
  keptTable(record: ElfRecord): SymbolTable | null | undefined {
    return this.kept(record.digest);
  }

  /** The table kept for a digest (null: it has none), marked as used; undefined when not kept. */
  private kept(digest: string): SymbolTable | null | undefined {
    const t = this.tables.get(digest);
    if (t === undefined) return undefined;
    this.tables.delete(digest);
    this.tables.set(digest, t);
    return t;
  }

  private keep(digest: string, table: SymbolTable | undefined): void {
    if (this.tables.has(digest)) return;
    this.tables.set(digest, table ?? null);
    this.tableBytes += table?.bytes ?? 0;
    for (const [d, t] of this.tables) {
      if (this.tableBytes <= MAX_TABLE_BYTES || d === digest) break;
      this.tables.delete(d);
      this.tableBytes -= t?.bytes ?? 0;
    }
  }

  /**
   * A record read elsewhere (the feed's thread, ahead of the check), with its symbol table as it
   * was read: kept unless this file's record is already known.
   */
  put(record: ObjectRecord, table: SymbolTable | undefined): void {
    if (this.records.has(record.key)) return;
    this.reads++;
    if (record.kind === "elf") this.keep(record.digest, table);
    this.records.set(record.key, this.shared(record));
  }

  /**
   * The record with the names it shares with others held once (records come from another thread
   * as copies: each its own strings): thousands of records name the same few.
   */
  private shared(record: ObjectRecord): ObjectRecord {
    if (record.kind !== "elf") return record;
    const name = (n: string) => this.names.of(n);
    const i = record.info;
    if (i.rpath !== undefined) i.rpath = name(i.rpath);
    if (i.runpath !== undefined) i.runpath = name(i.runpath);
    if (i.interpreter !== undefined) i.interpreter = name(i.interpreter);
    i.needed = i.needed.map(name);
    if (record.defines) record.defines = record.defines.map(name);
    for (const need of record.needs) {
      need.file = name(need.file);
      need.versions = need.versions.map((v) => {
        const k = `${v.weak ? "w" : "s"}${v.name}`;
        let known = this.versions.get(k);
        if (!known) {
          known = Object.freeze({ name: name(v.name), weak: v.weak });
          this.versions.set(k, known);
        }
        return known;
      });
    }
    return record;
  }

  private async read(local: string, key: string): Promise<ObjectRecord> {
    const { record, table } = await this.reader(local, key);
    // read elsewhere meanwhile (the feed's thread read it ahead): that record, with its table
    const known = this.records.get(key);
    if (known) return known;
    this.reads++;
    if (record.kind === "elf") this.keep(record.digest, table);
    const mine = this.shared(record);
    this.records.set(key, mine);
    return mine;
  }
}

/** Reads the record of a file (and its symbol table, when it is read with it). */
export type ObjectReader = (
  local: string,
  key: string,
  /** Read it even when it was read before (its tables are wanted again). */
  again?: boolean,
) => Promise<{ record: ObjectRecord; table?: SymbolTable }>;

/**
 * The record of the file at `local` (whose state is `key`) and its symbol table: the tables are
 * read for the digest anyway, and kept for the lookups and undefined symbols to come.
 */
export async function readObject(
  local: string,
  key: string,
): Promise<{ record: ObjectRecord; table?: SymbolTable }> {
  try {
    const abi = await readElfAbi(local, { lookup: true });
    if (!abi) return { record: { kind: "malformed", key } };
    return {
      record: {
        kind: "elf",
        key,
        digest: abi.digest,
        info: abi.info,
        needs: abi.needs,
        defines: abi.defines,
      },
      table: abi.symbols,
    };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      record: {
        kind: "unreadable",
        key,
        why:
          code === "EACCES"
            ? "permission denied"
            : code === "ENOTREG"
              ? "not a regular file"
              : (code ?? (e as Error).message),
      },
    };
  }
}
