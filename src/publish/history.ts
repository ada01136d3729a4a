/**
 * The publication history of a repository: one row per publish or rollback of a layer, with who,
 * when, which artifact and sha256, and where the replaced layer was kept. SQLite (better-sqlite3)
 * in `<state dir>/history.db`; for a local repository the state dir is `<root>/.compat/`.
 */
import { existsSync, mkdirSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
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

/** Columns added after the first schema: a history.db made before them gets them on opening. */
const ADDED_COLUMNS = ["tree_sha256", "tag", "undo"];

function addMissingColumns(db: Database.Database): void {
  const have = new Set(
    (db.prepare("PRAGMA table_info(events)").all() as { name: string }[]).map((c) => c.name),
  );
  for (const c of ADDED_COLUMNS) if (!have.has(c)) db.exec(`ALTER TABLE events ADD COLUMN ${c} TEXT`);
}

function currentUser(): string {
  const sudo = process.env.SUDO_USER;
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return sudo && sudo !== name ? `${sudo} (as ${name})` : name;
}

export class History {
  private readonly db: Database.Database;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.db = new Database(join(stateDir, "history.db"));
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    addMissingColumns(this.db);
  }

  /** Record an event; with a journal id, recording twice (recovery after a crash) keeps one row. */
  record(e: NewHistoryEvent): void {
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
      });
  }

  events(target: string, layer?: string): HistoryEvent[] {
    const rows = this.db
      .prepare(
        `SELECT id, target, layer, action, kind, artifact, sha256, previous_sha256 AS previousSha256, backup, user, host, at, detail,
                tree_sha256 AS treeSha256, tag, undo, journal_id AS journalId
         FROM events WHERE target = ? ${layer ? "AND layer = ?" : ""} ORDER BY id`,
      )
      .all(...(layer ? [target, layer] : [target])) as HistoryEvent[];
    return rows;
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
  mkdirSync(dirname(lockPath), { recursive: true });
  const lock = acquireLock(lockPath, what);
  const history = new History(stateDir);
  try {
    return await fn(history);
  } finally {
    history.close();
    lock.release();
  }
}

/** The events of a target, without taking the lock (reading is safe under SQLite's WAL). */
export function readHistory(stateDir: string, target: string, layer?: string): HistoryEvent[] {
  if (!existsSync(join(stateDir, "history.db"))) return [];
  const h = new History(stateDir);
  try {
    return h.events(target, layer);
  } finally {
    h.close();
  }
}
