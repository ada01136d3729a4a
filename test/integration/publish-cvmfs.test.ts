/**
 * The cvmfs publisher against a stand-in cvmfs_server (test/helpers/cvmfs-standin.ts), for the
 * faults a real CernVM-FS 2.12 cannot be made to produce on demand: `publish` or `abort` failing at
 * a chosen moment, the artifact changed between the transaction's opening and its extraction, `tar`
 * failing inside the transaction, the nested-catalog publish after an ingest failing, a publish
 * killed between `transaction` and its journal entry, or after `publish` before the history. The
 * stand-in is as strict as 2.12 about messages (`sh -c`), tag names and where it prints refusals.
 * Everything else runs against the real server: test/integration/cvmfs-real.test.ts and
 * cvmfs-recovery.test.ts. The file operations in between are the real tools.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { LocalHost } from "../../src/exec/host.js";
import { CvmfsPublisher } from "../../src/publish/cvmfs.js";
import { type JournalStart, PublishJournal } from "../../src/publish/cvmfs-journal.js";
import { cvmfsMessage } from "../../src/publish/cvmfs-text.js";
import { compat } from "../helpers/cli.js";
import { makeStandIn, type StandIn } from "../helpers/cvmfs-standin.js";
import { makeArtifactPair, TOP_DIR, treeDigest } from "../helpers/layer-tree.js";

const REPO = "software.example.org";
let work: string;
let artifactA: string;
let artifactB: string;
let digestA: string;
let digestB: string;
let standIn: StandIn;
let caseDir: string;
let counter = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-cvmfs-"));
  ({ artifactA, digestA, artifactB, digestB } = await makeArtifactPair(work, { files: 50, bigFileMiB: 1 }));
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeEach(() => {
  caseDir = join(work, `case-${++counter}`);
  standIn = makeStandIn(caseDir, REPO);
  process.env.PATH = `${standIn.binDir}:${process.env
    .PATH!.split(":")
    .filter((p) => !p.includes("compat-cvmfs-"))
    .join(":")}`;
});

const stateDir = () => join(caseDir, "state");
const publisher = (opts: { ingest?: boolean } = {}) =>
  new CvmfsPublisher({
    repository: REPO,
    host: new LocalHost(),
    stateDir: stateDir(),
    cvmfsRoot: standIn.cvmfsRoot,
    ingest: opts.ingest ?? false,
    configDir: standIn.configDir,
  });

const layerPath = () => join(standIn.cvmfsRoot, REPO, "versions", TOP_DIR);
/** The calls without their tag names and messages (nor the `diff`s the stand-in answers with "no history"). */
const subcommands = () =>
  standIn
    .calls()
    .filter((c) => c[0] !== "diff")
    .map((c) =>
      c.filter((a, i) => !["-m", "-a"].includes(a) && !["-m", "-a"].includes(c[i - 1] ?? "")).join(" "),
    );
const journal = () => new PublishJournal(stateDir(), REPO);
/** An unfinished journal entry of a compat publish that was killed (its pid is a process that is gone). */
const KILLED = {
  id: "0b9e1c1e-5f0a-4d4e-9c3b-2a1d0e9f8c7b",
  repository: REPO,
  publisher: "this host",
  command: "compat publish X",
  layer: TOP_DIR,
  tag: "t-killed",
};
function killedEntry(entry: JournalStart): void {
  const j = journal();
  j.begin(entry);
  writeFileSync(j.file, readFileSync(j.file, "utf8").replaceAll(`"pid":${process.pid}`, '"pid":999999999'));
}
const undoDirs = () => {
  const dir = join(stateDir(), "undo", REPO, TOP_DIR.replaceAll("/", "_"));
  return existsSync(dir) ? readdirSync(dir) : [];
};

describe("the stand-in is as strict as cvmfs_server 2.12", () => {
  it("fails a publish whose message or tag a shell would act on, with the refusal on stdout or stderr as 2.12 has it", () => {
    const run = (args: string[]) => {
      try {
        return { status: 0, out: execFileSync("cvmfs_server", args, { encoding: "utf8", stdio: "pipe" }) };
      } catch (e) {
        const x = e as { status: number; stdout: string; stderr: string };
        return { status: x.status, out: `${x.stdout}${x.stderr}` };
      }
    };
    expect(run(["publish", REPO])).toEqual({
      status: 1,
      out: `Repository ${REPO} is not in a transaction\n`,
    });
    standIn.openTransaction();
    expect(run(["publish", "-m", "compat: publish (sha256 x)", REPO]).out).toMatch(
      /Syntax error|Synchronization failed/,
    );
    expect(run(["publish", "-m", "a -Z none", REPO]).out).toMatch(/unknown option -Z/);
    expect(run(["publish", "-a", "a b", REPO]).out).toMatch(/Spaces are not allowed in tag names/);
    expect(standIn.transactionOpen()).toBe(true);
    expect(
      run(["publish", "-a", "t1", "-m", cvmfsMessage("compat: publish (sha256 x) $(id) -rf"), REPO]).status,
    ).toBe(0);
    expect(run(["publish", "-a", "t1", REPO]).out).toMatch(/already in use/);
  });
});

describe("cvmfs publisher: faults only a stand-in can produce", () => {
  it("aborts with -f when publish fails, leaving the repository, history, journal and undo as they were", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    standIn.script("publish", 1);
    await expect(p.publish({ artifact: artifactB })).rejects.toThrow(
      /cvmfs_server publish .* failed with exit status 1/,
    );
    expect(subcommands().slice(2)).toEqual([`transaction ${REPO}`, `publish ${REPO}`, `abort -f ${REPO}`]);
    expect(standIn.transactionOpen()).toBe(false);
    expect(treeDigest(layerPath())).toBe(digestA);
    expect((await p.history()).length).toBe(1);
    expect(journal().unfinished()).toBeUndefined();
    expect(journal().entries().at(-1)?.outcome).toMatch(/^aborted: /);
    expect(undoDirs()).toEqual([]); // the aborted publish's undo archive is gone (the first one made none)
  });

  it("lists the repository's layers, and refuses a truncated history while layers are live", async () => {
    const p = publisher();
    expect(await p.inventory()).toEqual({ layers: [], kept: [] });
    await p.publish({ artifact: artifactA });
    await p.publish({ artifact: artifactB });
    // a replacement keeps the old layer as an undo archive in the state dir, not in the repository
    expect(await p.inventory()).toEqual({ layers: [TOP_DIR], kept: [] });
    truncateSync(join(stateDir(), "history.db"), 0);
    const calls = standIn.calls().length;
    for (const attempt of [() => p.history(), () => p.publish({ artifact: artifactA })])
      await expect(attempt()).rejects.toThrow(
        /history\.db is empty \(0 bytes\), but cvmfs:.* holds 1 layer\(s\) and 0 kept/,
      );
    expect(
      standIn
        .calls()
        .slice(calls)
        .filter((c) => c[0] !== "diff"),
    ).toEqual([]);
    expect(treeDigest(layerPath())).toBe(digestB);
  });

  it("aborts a first publish when the artifact changes under it after verification (the second verification)", async () => {
    const copy = join(caseDir, "dev-2025.06-compat-linux-x86_64-1750000100.tar.zst");
    execFileSync("cp", [artifactB, `${artifactB}.manifest.json`, caseDir]);
    standIn.script("transaction", 0, `truncate -s 5000 '${copy}'`);
    await expect(publisher().publish({ artifact: copy })).rejects.toThrow(
      /changed since it was verified|truncated|corrupt/,
    );
    expect(subcommands()).toEqual([`transaction ${REPO}`, `abort -f ${REPO}`]);
    expect(existsSync(layerPath())).toBe(false);
  });

  it("replaces a layer from the entries it kept while verifying: changing the artifact afterwards changes nothing", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    const copy = join(caseDir, "dev-2025.06-compat-linux-x86_64-1750000100.tar.zst");
    execFileSync("cp", [artifactB, `${artifactB}.manifest.json`, caseDir]);
    standIn.script("transaction", 0, `truncate -s 5000 '${copy}'`);
    const r = await p.publish({ artifact: copy });
    expect(r.changes!.written).toBeLessThan(10);
    expect(treeDigest(layerPath())).toBe(digestB);
  });

  it("aborts when tar fails inside the transaction (its exit status)", async () => {
    const versions = join(standIn.cvmfsRoot, REPO, "versions");
    standIn.script("transaction", 0, `rm -rf '${versions}' && ln -s /proc/self/fdinfo '${versions}'`);
    await expect(publisher().publish({ artifact: artifactA })).rejects.toThrow(/failed with exit status 2/);
    expect(subcommands()).toEqual([`transaction ${REPO}`, `abort -f ${REPO}`]);
    expect(standIn.transactionOpen()).toBe(false);
  });

  it("accepts abort -f finding no transaction (exit 22) and still reports the original failure", async () => {
    standIn.script("publish", 1);
    standIn.script("abort", 22);
    await expect(publisher().publish({ artifact: artifactA })).rejects.toThrow(/exit status 1/);
    expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`, `abort -f ${REPO}`]);
    expect(journal().unfinished()).toBeUndefined();
  });

  it("leaves the journal entry open when abort -f fails too, and the next publish aborts the transaction itself", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    standIn.script("publish", 1);
    standIn.script("abort", 1);
    await expect(p.publish({ artifact: artifactB })).rejects.toThrow(/publish .* failed/);
    expect(standIn.transactionOpen()).toBe(true);
    expect(journal().unfinished()?.step).toBe("publishing");
    const r = await p.publish({ artifact: artifactB });
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    const tail = subcommands().slice(-4);
    expect(tail[0]).toMatch(new RegExp(`^tag -i compat-2025\\.06-linux-x86_64-publish-\\S+ -x ${REPO}$`));
    expect(tail.slice(1)).toEqual([`abort -f ${REPO}`, `transaction ${REPO}`, `publish ${REPO}`]);
    expect(treeDigest(layerPath())).toBe(digestB);
    expect((await p.history()).at(-1)?.detail).toMatch(
      /recovered: .* killed with its transaction open; aborted it/,
    );
  });

  it("records a publish that completed but was not recorded (killed after cvmfs_server publish)", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    // The CLI's compat process is killed (SIGKILL) while cvmfs_server publish runs; the publish completes.
    standIn.script("publish", 0, "kill -9 $(ps -o ppid= -p $PPID)");
    const killed = compat([
      "publish",
      artifactB,
      "--to",
      `cvmfs:${REPO}`,
      "--state",
      stateDir(),
      "--cvmfs-root",
      standIn.cvmfsRoot,
    ]);
    expect(killed.status).toBe(null);
    // The orphaned cvmfs_server publish finishes on its own; until it has, compat says to wait.
    for (let i = 0; i < 100 && (standIn.transactionOpen() || standIn.tags().length < 2); i++)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    expect(standIn.tags()).toHaveLength(2);
    expect((await p.history()).length).toBe(1);
    expect(journal().unfinished()?.step).toBe("publishing");
    // Recorded by the recovery, B is what the layer comes from; the stand-in has no `cvmfs_server diff`
    // to prove the layer unchanged since, so B is published again (nothing differs: nothing written).
    expect(await p.publish({ artifact: artifactB })).toMatchObject({ changes: { written: 0, deleted: 0 } });
    const after = await p.history();
    expect(after.map((e) => e.artifact?.slice(-25))).toEqual([
      "x86_64-1750000000.tar.zst",
      "x86_64-1750000100.tar.zst",
      "x86_64-1750000100.tar.zst",
    ]);
    expect(after[1]!.detail).toMatch(/recorded after the fact/);
    expect(after[1]!.tag).toBe(standIn.tags()[1]);
  });

  it("refuses, and says to abort, when a killed compat was opening a transaction (no proof the open one is its)", async () => {
    killedEntry({ ...KILLED, step: "opening" });
    standIn.openTransaction();
    const err = await publisher()
      .publish({ artifact: artifactA })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toMatch(/killed while it opened a transaction/);
    expect((err as ValidationError).hint).toBe(
      `if nobody else works on ${REPO}, discard it with: cvmfs_server abort -f ${REPO}; then run this again`,
    );
    expect(standIn.transactionOpen()).toBe(true);
    expect(subcommands()).toEqual([`tag -i t-killed -x ${REPO}`]);
  });

  it("refuses a journal entry naming paths that are not its own, and removes or records nothing", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    const canary = join(caseDir, "canary");
    writeFileSync(join(caseDir, "canary-file"), "x");
    mkdirSync(canary);
    writeFileSync(join(canary, "keep"), "x");
    const base = { ...KILLED, step: "open" as const };
    const { id: _id, user: _u, host: _h, at: _at, journalId: _j, ...event } = (await p.history())[0]!;
    for (const [entry, refusal] of [
      [{ ...base, tree: join(caseDir, "canary-file") }, /names the staged tree/],
      [{ ...base, event: { ...event, undo: join(canary, "keep") } }, /names the undo archive/],
      [{ ...base, layer: "../../etc/compat/linux/x86_64" }, /names the layer/],
      [{ ...base, id: "../x" }, /an id that is not a journal id/],
      [{ ...base, tag: "t; rm -rf /" }, /names the tag/],
    ] as [JournalStart, RegExp][]) {
      rmSync(journal().file, { force: true });
      killedEntry(entry);
      const calls = standIn.calls().length;
      const err = await p.publish({ artifact: artifactB }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).message).toMatch(refusal);
      expect(standIn.calls().length).toBe(calls);
    }
    expect(readFileSync(join(caseDir, "canary-file"), "utf8")).toBe("x");
    expect(readdirSync(canary)).toEqual(["keep"]);
    expect((await p.history()).length).toBe(1);
    expect(treeDigest(layerPath())).toBe(digestA);
  });

  it("refuses a rollback whose undo archive in the history is not where compat keeps them", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    await p.publish({ artifact: artifactB });
    const outside = join(caseDir, "outside.tar.zst");
    writeFileSync(outside, "x");
    const db = new Database(join(stateDir(), "history.db"));
    db.prepare("UPDATE events SET undo = ? WHERE id = 2").run(outside);
    db.close();
    const calls = standIn.calls().length;
    await expect(p.rollback(TOP_DIR)).rejects.toThrow(/which is not where compat keeps them/);
    expect(standIn.calls().length).toBe(calls);
    expect(existsSync(outside)).toBe(true);
    expect(treeDigest(layerPath())).toBe(digestB);
  });

  it("does not abort after a failed ingest (ingest aborts its own transaction)", async () => {
    standIn.script("ingest", 1);
    await expect(publisher({ ingest: true }).publish({ artifact: artifactA })).rejects.toThrow(
      /cvmfs_server failed with exit status 1|ingest .* failed/,
    );
    expect(subcommands()).toEqual([`ingest --tar_file - --base_dir versions ${REPO}`]);
    expect(existsSync(layerPath())).toBe(false);
    expect(journal().entries().at(-1)?.outcome).toMatch(/^failed: /);
  });

  it("refuses before reading anything when someone else's transaction is open, and leaves it open", async () => {
    standIn.openTransaction();
    const err = await publisher({ ingest: true })
      .publish({ artifact: artifactA })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toMatch(
      /already has an open transaction .* that compat did not open/,
    );
    expect((err as ValidationError).hint).toMatch(
      /cvmfs_server abort -f software\.example\.org, then run this again$/,
    );
    expect(subcommands()).toEqual([]);
    expect(standIn.transactionOpen()).toBe(true);
  });

  it("reports an ingest whose nested-catalog publish fails: published, recorded, exit 4 with the commands to finish", async () => {
    standIn.script("publish", 1);
    const p = publisher({ ingest: true });
    await expect(p.publish({ artifact: artifactA })).rejects.toThrow(
      /was ingested and is published, but its nested catalog was not made/,
    );
    expect(subcommands()).toEqual([
      `ingest --tar_file - --base_dir versions ${REPO}`,
      `transaction ${REPO}`,
      `publish ${REPO}`,
      `abort -f ${REPO}`,
    ]);
    expect(treeDigest(layerPath())).toBe(digestA);
    expect((await p.history(TOP_DIR)).map((e) => [e.action, e.tag])).toEqual([["publish", null]]);
  });

  it("refuses a delta with patches before any cvmfs_server command when the host's zstd is too old", async () => {
    const p = publisher();
    await p.publish({ artifact: artifactA });
    const old = join(standIn.binDir, "zstd");
    writeFileSync(
      old,
      '#!/bin/sh\n[ "$1" = --version ] && { echo "*** zstd command line interface 64-bits v1.4.4, by Yann Collet ***"; exit 0; }\nexec /usr/bin/zstd "$@"\n',
    );
    chmodSync(old, 0o755);
    const delta = join(
      work,
      "out",
      readdirSync(join(work, "out")).find((n) => n.endsWith(".delta.tar.zst"))!,
    );
    await expect(p.publish({ artifact: delta })).rejects.toThrow(
      /has zstd 1\.4\.4; applying them needs zstd ≥ 1\.4\.5/,
    );
    expect(subcommands()).toEqual([`transaction ${REPO}`, `publish ${REPO}`]);
    expect(treeDigest(layerPath())).toBe(digestA);
  });

  it("refuses an artifact other than the approved one before any command", async () => {
    await expect(
      publisher().publish({ artifact: artifactA, approvedSha256: "f".repeat(64) }),
    ).rejects.toMatchObject({ details: [expect.stringMatching(/^\[approval-mismatch\]/)] });
    expect(standIn.calls()).toEqual([]);
    void digestB;
  });
});
