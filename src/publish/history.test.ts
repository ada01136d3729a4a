import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { History, readHistory } from "./history.js";

const dir = mkdtempSync(join(tmpdir(), "compat-history-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A history.db of the first schema (no tree_sha256, tag, undo) with one publish in `stateDir`. */
function firstSchemaHistory(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true });
  const db = new Database(join(stateDir, "history.db"));
  db.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, layer TEXT NOT NULL,
      action TEXT NOT NULL CHECK (action IN ('publish', 'rollback')), kind TEXT, artifact TEXT, sha256 TEXT,
      previous_sha256 TEXT, backup TEXT, user TEXT NOT NULL, host TEXT NOT NULL, at TEXT NOT NULL, detail TEXT,
      journal_id TEXT UNIQUE);
      INSERT INTO events (target, layer, action, kind, artifact, sha256, user, host, at)
      VALUES ('cvmfs:r.example.org', 'l', 'publish', 'full', 'a.tar.zst', 'aa', 'root', 'h', '2025-01-01T00:00:00Z');`);
  db.close();
}

describe("History", () => {
  it("reads a history.db of the first schema without altering it: the newer columns read as null", () => {
    const old = join(dir, "read-only");
    firstSchemaHistory(old);
    expect(
      readHistory(old, "cvmfs:r.example.org").map((e) => [e.sha256, e.treeSha256, e.tag, e.undo]),
    ).toEqual([["aa", null, null, null]]);
    const db = new Database(join(old, "history.db"), { readonly: true });
    const columns = (db.prepare("PRAGMA table_info(events)").all() as { name: string }[]).map((c) => c.name);
    db.close();
    expect(columns).not.toContain("tree_sha256");
  });

  it("opens a history.db of the first schema for writing, adds the new columns, and keeps its rows", () => {
    firstSchemaHistory(dir);
    const h = History.openForWriting(dir);
    h.record({
      target: "cvmfs:r.example.org",
      layer: "l",
      action: "publish",
      kind: "delta",
      artifact: "d.tar.zst",
      sha256: "dd",
      previousSha256: "aa",
      backup: null,
      detail: null,
      treeSha256: "tt",
      tag: "compat-tag",
      undo: "/state/undo/x",
    });
    h.close();
    expect(
      readHistory(dir, "cvmfs:r.example.org").map((e) => [e.sha256, e.treeSha256, e.tag, e.undo]),
    ).toEqual([
      ["aa", null, null, null],
      ["dd", "tt", "compat-tag", "/state/undo/x"],
    ]);
  });
});
