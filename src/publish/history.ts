/**
 * The publication history of a repository: one row per publish or rollback of a layer, with who,
 * when, which artifact and sha256, and where the replaced layer was kept. SQLite (better-sqlite3)
 * in `<state dir>/history.db`; for a local repository the state dir is `<root>/.compat/`.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { CompatError, IoError, isSystemError, systemError } from "../errors.js";
import { currentUser } from "../store/actor.js";
import { acquireLock } from "./lock.js";

export type HistoryAction = "publish" | "rollback";

export interface HistoryEvent {
  id: number;
  /** The target as given: `local:/srv/repo` or `cvmfs:software.eessi.io@stratum0`. */
  target: string;
  /** The layer's top dir, e.g. `2025.06/compat/linux/x86_64`. */
  layer: string;
  action: HistoryAction;
  kind: "full" | "delta" | null;
  artifact: string | null;
  /** sha256 of the artifact the layer now comes from (after a rollback: the restored one's). */
  sha256: string | null;
  previousSha256: string | null;
  /** Where the replaced layer was kept (`.<arch>-NNN`), when it was kept. */
  backup: string | null;
  user: string;
  host: string;
  at: string;
  /** Publisher-specific detail, e.g. the cvmfs revision message. */
  detail: string | null;
  /**
   * The layer's tree after the event (entry-index.ts treeSha256): a full artifact's own tree, the
   * tree a delta produced, the tree a rollback restored. A delta made from a full artifact applies
   * onto a layer whose tree is that artifact's, whichever artifacts brought it there.
   */
  treeSha256: string | null;
  /** cvmfs: the repository's named tag of the revision this event published. */
  tag: string | null;
  /** cvmfs: the undo archive that brings the layer back to its tree before the event. */
  undo: string | null;
  /** The publish journal's id of the operation. */
  journalId: string | null;
}

export type NewHistoryEvent = Omit<
  HistoryEvent,
  "id" | "user" | "host" | "at" | "treeSha256" | "tag" | "undo" | "journalId"
> &
  Partial<Pick<HistoryEvent, "treeSha256" | "tag" | "undo">> & { journalId?: string };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  target TEXT NOT NULL,
  layer TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('publish', 'rollback')),
  kind TEXT,
  artifact TEXT,
  sha256 TEXT,
  previous_sha256 TEXT,
  backup TEXT,
  user TEXT NOT NULL,
  host TEXT NOT NULL,
  at TEXT NOT NULL,
  detail TEXT,
  journal_id TEXT UNIQUE,
  tree_sha256 TEXT,
  tag TEXT,
  undo TEXT
);
CREATE INDEX IF NOT EXISTS events_layer ON events (target, layer, id);
`;

/** Columns added after the first schema: a history.db made before them gets them when opened for writing. */
const ADDED_COLUMNS = ["tree_sha256", "tag", "undo"] as const;

function columnsOf(db: Database.Database): Set<string> {
  return new Set((db.prepare("PRAGMA table_info(events)").all() as { name: string }[]).map((c) => c.name));
}

function addMissingColumns(db: Database.Database): void {
  const have = columnsOf(db);
  for (const c of ADDED_COLUMNS) if (!have.has(c)) db.exec(`ALTER TABLE events ADD COLUMN ${c} TEXT`);
}

/** Where a state dir keeps its history. */
export function historyPath(stateDir: string): string {
  return join(stateDir, "history.db");
}

/** `absent`: no file; `empty`: a file of 0 bytes (never written, or truncated); `present`: anything else. */
export function historyFileState(stateDir: string): "absent" | "empty" | "present" {
  try {
    return statSync(historyPath(stateDir)).size === 0 ? "empty" : "present";
  } catch {
    return "absent";
  }
}

/**
 * A history file of 0 bytes beside a repository that holds layers was truncated: starting a new
 * history over it would lose the record of what is live (and what a rollback restores). Throws
 * then; with no layers, an empty file is just a new history.
 */
export function refuseLostHistory(
  stateDir: string,
  target: string,
  inv: { layers: string[]; kept: string[] },
): void {
  if (historyFileState(stateDir) !== "empty" || inv.layers.length + inv.kept.length === 0) return;
  const file = historyPath(stateDir);
  throw new IoError(
    `${file} is empty (0 bytes), but ${target} holds ${inv.layers.length} layer(s) and ${inv.kept.length} kept layer(s): the publication history was lost (truncated), not "nothing published"`,
    {
      details: [...inv.layers.map((l) => `layer ${l}`), ...inv.kept.map((k) => `kept  ${k}`)],
      hint: `the layers are not affected; restore ${file} from a backup, or move it aside (mv ${file} ${file}.lost) to start a new history (rollback then knows nothing to roll back, and a delta needs a full publish first)`,
    },
  );
}

/** SQLite's codes for a file that is not (or no longer) a database. */
const DAMAGED = /^SQLITE_(NOTADB|CORRUPT)/;

/** A failure to open, read or write the history, as the error a user sees (exit 4, never 70). */
export function historyError(e: unknown, file: string, doing: string): unknown {
  if (e instanceof CompatError) return e;
  if (isSystemError(e))
    return systemError(e, `cannot ${doing} ${file}`, {
      hint:
        e.code === "EROFS" || e.code === "EACCES" || e.code === "EPERM"
          ? "publish and rollback write the repository's state (lock, journal, history); give a writable target"
          : undefined,
    });
  if (!(e instanceof Error) || e.name !== "SqliteError") return e;
  const code = String((e as Error & { code?: unknown }).code);
  if (DAMAGED.test(code))
    return new IoError(`${file} is damaged: ${e.message} (${code}); compat cannot tell what was published`, {
      hint: `the published layers are not affected; restore ${file} from a backup, or move it aside (mv ${file} ${file}.damaged) to start a new history (a delta then needs a full publish first)`,
      cause: e,
    });
  const readOnly = /^SQLITE_(READONLY|CANTOPEN|PERM|AUTH)/.test(code);
  return new IoError(`cannot ${doing} ${file}: ${e.message} (${code})`, {
    hint: readOnly
      ? "publish and rollback write the repository's state (lock, journal, history); give a writable target"
      : /^SQLITE_FULL/.test(code)
        ? `free some space on the file system of ${dirname(file)}`
        : undefined,
    cause: e,
  });
}

export class History {
  private constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {}

  /** Open for recording (creates the file and its table when they do not exist). */
  static openForWriting(stateDir: string): History {
    const file = historyPath(stateDir);
    let db: Database.Database | undefined;
    try {
      mkdirSync(stateDir, { recursive: true });
      db = new Database(file);
      db.pragma("journal_mode = WAL");
      db.pragma("busy_timeout = 5000");
      db.exec(SCHEMA);
      addMissingColumns(db);
      return new History(db, file);
    } catch (e) {
      db?.close();
      throw historyError(e, file, "write the publication history");
    }
  }

  /**
   * Open an existing history for reading. On a read-only file system SQLite cannot open a WAL
   * database (it needs its -shm file): then a copy is read.
   */
  static openForReading(stateDir: string): History {
    const file = historyPath(stateDir);
    const open = (path: string) => {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      try {
        db.pragma("busy_timeout = 5000");
        const table = db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'")
          .get();
        if (!table)
          throw new IoError(
            `${file} has no table of events (${statSync(file).size} bytes): it is not compat's history, or it was truncated`,
            {
              hint: `restore ${file} from a backup, or move it aside (mv ${file} ${file}.damaged) to start a new history`,
            },
          );
        return new History(db, file);
      } catch (e) {
        db.close();
        throw e;
      }
    };
    try {
      return open(file);
    } catch (e) {
      if (!(e instanceof Error && (e as Error & { code?: unknown }).code === "SQLITE_CANTOPEN"))
        throw historyError(e, file, "read the publication history");
    }
    const copy = mkdtempSync(join(tmpdir(), "compat-history-"));
    try {
      for (const suffix of ["", "-wal"])
        if (existsSync(`${file}${suffix}`))
          copyFileSync(`${file}${suffix}`, join(copy, `history.db${suffix}`));
      return open(join(copy, "history.db"));
    } catch (e) {
      throw historyError(e, file, "read the publication history");
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }

  /** Record an event; with a journal id, recording twice (recovery after a crash) keeps one row. */
  record(e: NewHistoryEvent): void {
    this.guard("write the publication history", () =>
      this.db
        .prepare(
          `INSERT OR IGNORE INTO events (target, layer, action, kind, artifact, sha256, previous_sha256, backup, user, host, at, detail, journal_id, tree_sha256, tag, undo)
         VALUES (@target, @layer, @action, @kind, @artifact, @sha256, @previousSha256, @backup, @user, @host, @at, @detail, @journalId, @treeSha256, @tag, @undo)`,
        )
        .run({
          ...e,
          journalId: e.journalId ?? null,
          treeSha256: e.treeSha256 ?? null,
          tag: e.tag ?? null,
          undo: e.undo ?? null,
          user: currentUser(),
          host: hostname(),
          at: new Date().toISOString(),
        }),
    );
  }

  events(target: string, layer?: string): HistoryEvent[] {
    return this.guard("read the publication history", () => {
      // A history opened for reading is not altered: columns it predates read as NULL.
      const have = columnsOf(this.db);
      const added = (c: (typeof ADDED_COLUMNS)[number], as: string) => `${have.has(c) ? c : "NULL"} AS ${as}`;
      return this.db
        .prepare(
          `SELECT id, target, layer, action, kind, artifact, sha256, previous_sha256 AS previousSha256, backup, user, host, at, detail,
                ${added("tree_sha256", "treeSha256")}, ${added("tag", "tag")}, ${added("undo", "undo")}, journal_id AS journalId
         FROM events WHERE target = ? ${layer ? "AND layer = ?" : ""} ORDER BY id`,
        )
        .all(...(layer ? [target, layer] : [target])) as HistoryEvent[];
    });
  }
  /** A database that fails under a query (damaged pages, a full disk) is reported as such. */
  private guard<T>(doing: string, query: () => T): T {
    try {
      return query();
    } catch (e) {
      throw historyError(e, this.file, doing);
    }
  }

  latest(target: string, layer: string): HistoryEvent | undefined {
    return this.events(target, layer).at(-1);
  }

  close(): void {
    this.db.close();
  }
}

/** Run `fn` holding the repository's lock, with its history open. */
export async function withLockedHistory<T>(
  lockPath: string,
  stateDir: string,
  what: string,
  fn: (history: History) => Promise<T>,
): Promise<T> {
  let lock: ReturnType<typeof acquireLock>;
  try {
    mkdirSync(dirname(lockPath), { recursive: true });
    lock = acquireLock(lockPath, what);
  } catch (e) {
    throw historyError(e, dirname(lockPath), "take the repository lock in");
  }
  try {
    const history = History.openForWriting(stateDir);
    try {
      return await fn(history);
    } finally {
      history.close();
    }
  } finally {
    lock.release();
  }
}

/** The events of a target, without taking the lock (reading is safe under SQLite's WAL). */
export function readHistory(stateDir: string, target: string, layer?: string): HistoryEvent[] {
  if (historyFileState(stateDir) === "absent") return [];
  const h = History.openForReading(stateDir);
  try {
    return h.events(target, layer);
  } finally {
    h.close();
  }
}
