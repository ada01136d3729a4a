import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assess, type JournalEntry, PublishJournal, type RecoveryFacts } from "./cvmfs-journal.js";

const REPO = "software.example.org";
const entry = (over: Partial<JournalEntry> = {}): JournalEntry => ({
  id: "j1",
  repository: REPO,
  publisher: "this host",
  host: "stratum0",
  pid: 4242,
  pidStart: "123",
  startedAt: "2026-01-01T00:00:00.000Z",
  command: "compat publish x.tar.zst",
  layer: "2025.06/compat/linux/x86_64",
  tag: "compat-t1",
  step: "open",
  lock: { inode: "7", ctime: "1.5" },
  ...over,
});
const facts = (over: Partial<RecoveryFacts> = {}): RecoveryFacts => ({
  ownerAlive: false,
  processes: [],
  tagExists: false,
  lock: { inode: "7", ctime: "1.5" },
  ...over,
});
const act = (e: JournalEntry, f: RecoveryFacts, publisher = "this host") => assess(e, f, REPO, publisher);

describe("assess: what compat does about a transaction a killed compat left", () => {
  it("aborts only its own transaction (same lock file), when its owner and everything it started are gone", () => {
    expect(act(entry(), facts()).action).toBe("abort");
    expect(act(entry({ step: "publishing" }), facts()).action).toBe("abort");
  });

  it("records a publish whose tag the repository has (it completed), whatever is open now", () => {
    expect(act(entry({ step: "publishing" }), facts({ tagExists: true })).action).toBe("record");
    expect(act(entry({ step: "publishing" }), facts({ tagExists: true, lock: null })).action).toBe("record");
  });

  it("closes the entry when nothing is open any more, or when the open transaction is another one", () => {
    expect(act(entry(), facts({ lock: null })).action).toBe("close");
    expect(act(entry(), facts({ lock: { inode: "8", ctime: "9.1" } })).action).toBe("close");
  });

  it("refuses and says to wait while its owner, or a program it started, still runs", () => {
    const alive = act(entry(), facts({ ownerAlive: true }));
    expect(alive).toMatchObject({ action: "refuse", hint: "wait for it to finish, then run this again" });
    const left = act(
      entry(),
      facts({
        processes: [{ pid: 99, where: "this host", command: "/bin/sh /usr/bin/cvmfs_server publish" }],
      }),
    );
    expect(left.action).toBe("refuse");
    expect(left.action === "refuse" && left.why).toMatch(
      /pid 99 on this host \(\/bin\/sh \/usr\/bin\/cvmfs_server publish\)/,
    );
    expect(left.action === "refuse" && left.hint).toMatch(/^wait for them to finish/);
  });

  it("refuses with the exact command when it cannot prove whose the open transaction is", () => {
    const opening = act(entry({ step: "opening", lock: undefined }), facts());
    expect(opening).toEqual({
      action: "refuse",
      why: expect.stringMatching(/killed while it opened a transaction/),
      hint: `if nobody else works on ${REPO}, discard it with: cvmfs_server abort -f ${REPO}; then run this again`,
    });
    const elsewhere = act(entry(), facts({ ownerAlive: undefined }), "ssh stratum0");
    expect(elsewhere.action === "refuse" && elsewhere.hint).toBe(
      `if that compat is still running, wait for it; if it is gone, discard the transaction with: cvmfs_server abort -f ${REPO} (on stratum0)`,
    );
  });

  it("never tells anyone to publish what is open", () => {
    const cases: [Partial<JournalEntry>, Partial<RecoveryFacts>][] = [
      [{}, { ownerAlive: true }],
      [{}, { ownerAlive: undefined }],
      [{ step: "opening", lock: undefined }, {}],
      [{}, { processes: [{ pid: 1, where: "x", command: "y" }] }],
    ];
    for (const [e, f] of cases) {
      const r = act(entry(e), facts(f));
      expect(r.action).toBe("refuse");
      expect(JSON.stringify(r)).not.toMatch(/publish it|published or aborted|cvmfs_server publish \S+$/);
    }
  });

  it("finishes an ingest that completed (the layer exists) and forgets one that did not", () => {
    expect(
      act(entry({ step: "ingesting", lock: undefined }), facts({ lock: null, layerExists: true })).action,
    ).toBe("record-ingest");
    expect(
      act(entry({ step: "ingesting", lock: undefined }), facts({ lock: null, layerExists: false })).action,
    ).toBe("close");
    // Killed in the transaction after the ingest: abort it, then record the ingest and make the catalog again.
    expect(act(entry({ ingested: true }), facts())).toMatchObject({
      action: "abort",
      andThen: "record-ingest",
    });
    expect(act(entry({ ingested: true }), facts({ lock: null })).action).toBe("record-ingest");
  });
});

describe("PublishJournal", () => {
  const dir = mkdtempSync(join(tmpdir(), "compat-journal-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("merges each transaction's lines, finds the unfinished one, and skips a torn last line", () => {
    const j = new PublishJournal(dir, REPO);
    j.begin({
      id: "a",
      repository: REPO,
      publisher: "this host",
      command: "c",
      layer: "l",
      tag: "t",
      step: "opening",
    });
    j.step("a", { step: "open", lock: { inode: "1", ctime: "2" } });
    j.close("a", "published");
    j.begin({
      id: "b",
      repository: REPO,
      publisher: "this host",
      command: "c",
      layer: "l",
      tag: "t2",
      step: "opening",
    });
    j.step("b", { step: "publishing" });
    appendFileSync(j.file, '{"id":"c","step":"ope');
    expect(j.entries().map((e) => [e.id, e.step])).toEqual([
      ["a", "closed"],
      ["b", "publishing"],
    ]);
    expect(j.unfinished()).toMatchObject({ id: "b", tag: "t2", pid: process.pid });
    expect(j.entries()[0]!.lock).toEqual({ inode: "1", ctime: "2" });
  });
});
