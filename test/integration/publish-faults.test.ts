/**
 * What a user or a disk does to a local repository, through the CLI: a read-only repository, a
 * history database that is truncated or damaged, a key written where it cannot be. Each is a
 * clear error with its exit code (2 bad input, 4 I/O) and a hint, never an internal error (70)
 * with a stack trace, and the published layer is never touched.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compat, compatBin } from "../helpers/cli.js";
import { LAYER, makeArtifactPair, makeLayerTree, TOP_DIR, treeDigest } from "../helpers/layer-tree.js";

let work: string;
let artifactA: string;
let artifactB: string;
let digestB: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-publish-faults-"));
  ({ artifactA, artifactB, digestB } = await makeArtifactPair(work, { files: 200 }));
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A repository with A then B published (B live, A kept as .x86_64-001). */
function publishedRepo(name: string): { repo: string; layer: string; db: string } {
  const repo = join(work, name);
  mkdirSync(repo);
  for (const a of [artifactA, artifactB]) {
    const r = compat(["publish", a, "--to", `local:${repo}`, "-q"]);
    expect(r.status, r.stderr).toBe(0);
  }
  return { repo, layer: join(repo, "versions", TOP_DIR), db: join(repo, ".compat/history.db") };
}

function expectClearError(r: { status: number | null; stderr: string }, status: number, message: RegExp) {
  expect(r.status, r.stderr).toBe(status);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/\n {2}hint: /);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
}

const asRoot = process.getuid?.() === 0;

describe("a read-only repository", () => {
  /** `compat ARGS` in a mount namespace of its own where `dir` is a read-only bind mount of itself. */
  const onReadOnly = (dir: string, args: string[]) => {
    const r = spawnSync(
      "unshare",
      [
        "-m",
        "sh",
        "-c",
        'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"',
        "sh",
        dir,
        process.execPath,
        compatBin,
        ...args,
      ],
      { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it.skipIf(!asRoot)("is listed by history, and publish and rollback refuse it with exit 4", () => {
    const { repo, layer } = publishedRepo("read-only");
    const before = treeDigest(layer);
    const h = onReadOnly(repo, ["history", "--to", `local:${repo}`, "--json"]);
    expect(h.status, h.stderr).toBe(0);
    expect(JSON.parse(h.stdout).events.map((e: { action: string }) => e.action)).toEqual([
      "publish",
      "publish",
    ]);
    const pub = onReadOnly(repo, ["publish", artifactA, "--to", `local:${repo}`]);
    expectClearError(
      pub,
      4,
      /cannot take the repository lock in .*\.compat: the file system is read-only \(EROFS\)/,
    );
    const back = onReadOnly(repo, ["rollback", "--to", `local:${repo}`]);
    expectClearError(back, 4, /read-only \(EROFS\)/);
    expect(treeDigest(layer)).toBe(before);
  });
});

describe("a damaged history database", () => {
  it("truncated (a corrupt page, or not a database at all): publish, rollback and history exit 4", () => {
    const { repo, layer, db } = publishedRepo("truncated");
    const intact = join(work, "history.db.intact");
    copyFileSync(db, intact);
    for (const size of [5000, 40]) {
      copyFileSync(intact, db);
      truncateSync(db, size);
      for (const args of [
        ["history", "--to", `local:${repo}`],
        ["rollback", "--to", `local:${repo}`],
        ["publish", artifactA, "--to", `local:${repo}`],
      ])
        expectClearError(compat(args), 4, /history\.db is damaged: .* \(SQLITE_(CORRUPT|NOTADB)\)/);
      expect(treeDigest(layer)).toBe(digestB);
    }
  });

  it("truncated to 0 bytes with layers live: says the history was lost, not 'nothing published'", () => {
    const { repo, layer, db } = publishedRepo("emptied");
    truncateSync(db, 0);
    for (const args of [
      ["history", "--to", `local:${repo}`],
      ["history", "--to", `local:${repo}`, "--json"],
      ["rollback", "--to", `local:${repo}`],
      ["publish", artifactA, "--to", `local:${repo}`],
    ]) {
      const r = compat(args);
      expectClearError(
        r,
        4,
        /history\.db is empty \(0 bytes\), but .* holds 1 layer\(s\) and 1 kept layer\(s\)/,
      );
      expect(r.stdout).not.toMatch(/nothing published/);
      expect(r.stderr).toContain(`layer ${TOP_DIR}`);
      expect(r.stderr).toContain("kept  2025.06/compat/linux/.x86_64-001");
    }
    expect(treeDigest(layer)).toBe(digestB);
    // moved aside, as the hint says: a new history, which says what the repository holds
    execFileSync("mv", [db, `${db}.lost`]);
    const h = compat(["history", "--to", `local:${repo}`, "--json"]);
    expect(h.status, h.stderr).toBe(0);
    expect(JSON.parse(h.stdout)).toMatchObject({
      events: [],
      unrecorded: [TOP_DIR, "2025.06/compat/linux/.x86_64-001"],
    });
    expect(compat(["history", "--to", `local:${repo}`]).stdout).toMatch(
      /has no publication, but it holds layers compat did not publish there/,
    );
  });
});

describe("SIGINT during publish", () => {
  let big: string;
  beforeAll(async () => {
    const { packLayer } = await import("../../src/artifacts/pack.js");
    const prefix = join(work, "big/versions", TOP_DIR);
    makeLayerTree(prefix, { files: 8000, bigFileMiB: 32, seed: "big" });
    big = (await packLayer({ ...LAYER, prefix, outDir: join(work, "big-out"), epoch: 1_750_000_300 }))
      .artifact;
  }, 300_000);

  /** `compat publish big` into a repository where B is live, interrupted once `when(parent's entries, stderr)` holds. */
  async function interrupted(name: string, when: (entries: string[], stderr: string) => boolean) {
    const { repo, layer, db } = publishedRepo(name);
    const parent = dirname(layer);
    const before = { tree: treeDigest(layer), history: readFileSync(db) };
    const child = spawn(process.execPath, [compatBin, "publish", big, "--to", `local:${repo}`], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    let sent = false;
    for (let i = 0; i < 3000 && !sent && child.exitCode === null; i++) {
      if (when(readdirSync(parent), stderr)) {
        child.kill("SIGINT");
        sent = true;
      } else await new Promise((r) => setTimeout(r, 5));
    }
    const status = await closed;
    expect(sent, stderr).toBe(true);
    return { status, stdout, stderr, parent, layer, repo, before, db };
  }

  it.each([
    ["while it verifies the artifact", (_: string[], stderr: string) => stderr.includes("verifying")],
    [
      "while it extracts into the staging dir",
      (e: string[]) => e.some((n) => n.startsWith(".x86_64.staging-")),
    ],
  ])(
    "%s: 'interrupted; nothing changed', exit 130, no staging dir left",
    async (_, when) => {
      const r = await interrupted(`sigint-${Math.random().toString(36).slice(2, 8)}`, when);
      expect(r.status, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/warn: SIGINT: stopping the publish/);
      expect(r.stderr).toMatch(/error: publish of .* interrupted; nothing changed/);
      expect(r.stdout).not.toMatch(/published/);
      expect(readdirSync(r.parent).sort()).toEqual([".x86_64-001", "x86_64"]);
      expect(existsSync(join(r.repo, ".compat/journal.json"))).toBe(false);
      expect(treeDigest(r.layer)).toBe(r.before.tree);
      expect(readFileSync(r.db).equals(r.before.history)).toBe(true);
      // and the next publish works
      expect(compat(["publish", big, "--to", `local:${r.repo}`, "-q"]).status).toBe(0);
    },
    120_000,
  );
});

describe("keygen", () => {
  it("into a directory that does not exist: exit 2, nothing written", () => {
    const base = join(work, "no-such-dir", "k");
    const r = compat(["keygen", "-o", base]);
    expectClearError(
      r,
      2,
      /cannot write the key pair .*: the directory .*no-such-dir does not exist \(ENOENT\)/,
    );
    expect(existsSync(join(work, "no-such-dir"))).toBe(false);
  });
});
