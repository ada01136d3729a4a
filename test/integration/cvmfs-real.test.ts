/**
 * The cvmfs publisher against a real CernVM-FS 2.12 stratum 0 (../shared/tools/cvmfs, installed by
 * the test setup when missing), through the CLI as an admin runs it, in a throwaway repository of
 * this file's own: first publish, replacement in proportion to the change, rollback and a second
 * rollback, delta and chained deltas, `--keep-copy`, `--ingest` of a new version with the
 * repository's `.cvmfsdirtab`, shell metacharacters in every message, refusals cvmfs_server prints on
 * stdout, someone else's transaction, two publishers at once, a corrupt artifact, and the same
 * over ssh. After each change the tree under /cvmfs/<repo> is compared with the artifact (paths,
 * types, modes, link targets, sha256) by the tests' own walker, the layer's tool is run from the
 * mount where the artifact's is a script, and the repository's catalogs,
 * tags and change sets are read back with cvmfs_server.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packLayer } from "../../src/artifacts/pack.js";
import { type CliResult, compat, compatAsync, compatBin } from "../helpers/cli.js";
import { cvmfsUnavailable, makeTestRepository, type TestRepository } from "../helpers/cvmfs-server.js";
import { makeHostileSet, snapshot } from "../helpers/hostile-deltas.js";
import { corruptPatchCopy, LAYER, makeArtifactPair, makeLayerTree, TOP_DIR } from "../helpers/layer-tree.js";
import { startSshd } from "../helpers/sshd.js";
import { differencesFromArtifact } from "../helpers/tree-compare.js";

const unavailable = await cvmfsUnavailable();
if (unavailable) console.warn(`cvmfs-real: skipped: ${unavailable}`);

let work: string;
let repo: TestRepository;
let state: string;
const a: Record<string, string> = {};

/** Every shell metacharacter cvmfs_server's `sh -c` would act on, and a command substitution. */
const HOSTILE = `a (b) 'c' "d" ; e & f | g $HOME \`id\` $(touch /tmp/compat-pwned) * ? [x] <in >out # ~ -rf \\ !`;

const layer = () => join(repo.root, "versions", TOP_DIR);
const publish = (artifact: string, ...more: string[]): CliResult =>
  compat(["publish", artifact, "--to", `cvmfs:${repo.name}`, "--state", state, "--json", ...more]);
const rollback = (...more: string[]) =>
  compat(["rollback", "--to", `cvmfs:${repo.name}`, "--state", state, "--layer", TOP_DIR, "--json", ...more]);
const history = () =>
  JSON.parse(compat(["history", "--to", `cvmfs:${repo.name}`, "--state", state, "--json"]).stdout).events as {
    action: string;
    kind: string | null;
    artifact: string | null;
    tag: string | null;
    treeSha256: string | null;
    detail: string | null;
  }[];
const ok = (r: CliResult) => {
  if (r.status !== 0) throw new Error(`compat exited ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout);
};
/** What the layer's `usr/bin/tool` prints, run from the /cvmfs mount, for the artifacts where it is a script. */
const toolSays = (artifact: string): string | undefined =>
  artifact === a.B ? "new tool\n" : artifact === a.C ? "tool 3\n" : undefined;
/** The tree under /cvmfs is the artifact's, and the layer runs from there. */
const expectTree = (artifact: string, dir = layer(), topDir = TOP_DIR) => {
  expect(differencesFromArtifact(dir, artifact, topDir)).toEqual([]);
  const says = toolSays(artifact);
  if (says) expect(execFileSync(join(dir, "usr/bin/tool"), { encoding: "utf8" })).toBe(says);
};
const catalogs = async () => (await repo.server(["list-catalogs", "-x"])).stdout;

beforeAll(async () => {
  if (unavailable) return;
  work = mkdtempSync(join(tmpdir(), "compat-cvmfs-real-"));
  state = join(work, "state");
  const pair = await makeArtifactPair(work, { files: 60, bigFileMiB: 1 });
  Object.assign(a, { A: pair.artifactA, B: pair.artifactB, AB: pair.deltaAB });
  // C: B with one more "package update" (a file rewritten, one removed, a mode changed), full and as a delta from B.
  const prefix = join(work, "build/versions", TOP_DIR);
  writeFileSync(join(prefix, "usr/bin/tool"), "#!/bin/sh\necho tool 3\n");
  rmSync(join(prefix, "usr/share/data/d1"), { recursive: true });
  writeFileSync(join(prefix, "usr/share/new/file"), "newer\n");
  const outDir = join(work, "out");
  a.C = (await packLayer({ ...LAYER, prefix, outDir, epoch: 1_750_000_300 })).artifact;
  a.BC = (await packLayer({ ...LAYER, prefix, outDir, epoch: 1_750_000_400, deltaFrom: a.B })).artifact;
  // A new version for --ingest.
  const next = join(work, "next/versions/2026.06/compat/linux/x86_64");
  makeLayerTree(next, { files: 20, bigFileMiB: 1, seed: "N" });
  a.N = (
    await packLayer({ ...LAYER, version: "2026.06", prefix: next, outDir, epoch: 1_760_000_000 })
  ).artifact;
  repo = await makeTestRepository("real");
}, 600_000);

afterAll(async () => {
  await repo?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe.skipIf(unavailable)("cvmfs publisher on a real CernVM-FS 2.12 stratum 0", () => {
  it("publishes a new layer in one tagged revision, as its own nested catalog", async () => {
    const r = ok(publish(a.A!));
    expect(r).toMatchObject({ method: "transaction", backup: null, kind: "full" });
    expect(r.tag).toMatch(/^compat-2025\.06-linux-x86_64-publish-\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    expectTree(a.A!);
    expect(existsSync(join(layer(), ".cvmfscatalog"))).toBe(true);
    expect(await catalogs()).toContain(`/versions/${TOP_DIR}\n`);
    await repo.server(["tag", "-i", r.tag, "-x"]);
    expect(history().map((e) => [e.action, e.tag])).toEqual([["publish", r.tag]]);
    expect(repo.transactionOpen()).toBe(false);
  });

  it("replaces the layer by writing only what differs, and rolls back (twice) the same way", async () => {
    const before = history().at(-1)!.tag!;
    const r = ok(publish(a.B!));
    expectTree(a.B!);
    // The revision's change set is what differs between A and B (and the directories holding it).
    const diff = (await repo.server(["diff", "-m", "-s", before, "-d", r.tag])).stdout;
    const changed = diff
      .split("\n")
      .filter(Boolean)
      .filter((l) => !l.startsWith("S "))
      .map((l) =>
        l
          .split(/\s+/)
          .find((w) => w.startsWith("/"))!
          .replace(`/versions/${TOP_DIR}/`, ""),
      );
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThan(20);
    expect(r.changes.written).toBeLessThan(12);
    expect(changed).toContain("usr/lib/libbig.so");
    expect(changed.some((p: string) => p.startsWith("usr/share/data/"))).toBe(false);

    const back = ok(rollback("--reason", "bad update"));
    expectTree(a.A!);
    expect(back.tag).toMatch(/-rollback-/);
    const again = ok(rollback());
    expectTree(a.B!);
    expect(history().map((e) => e.action)).toEqual(["publish", "publish", "rollback", "rollback"]);
    expect(history()[2]!.detail).toContain("reason: bad update");
    expect(existsSync(again.keptAs)).toBe(true);
  });

  it("applies a delta, then a delta made from the full artifact the first produced (chained deltas)", async () => {
    ok(publish(a.A!));
    expectTree(a.A!);
    const d1 = ok(publish(a.AB!));
    expect(d1.kind).toBe("delta");
    expectTree(a.B!);
    const d2 = ok(publish(a.BC!));
    expectTree(a.C!);
    const events = history();
    // The history records the tree each delta produced: the full artifacts' trees.
    expect(events.at(-2)!.treeSha256).toBe(
      events.find((e) => e.artifact?.endsWith("1750000100.tar.zst"))!.treeSha256,
    );
    expect(d2.kind).toBe("delta");
    ok(rollback());
    expectTree(a.B!);
    ok(publish(a.C!)); // a full artifact onto the same tree: nothing differs
    expectTree(a.C!);
    expect(history().at(-1)!.treeSha256).toBe(events.at(-1)!.treeSha256);
  });

  it("brings a layer changed behind compat's back (a manual transaction) exactly to the artifact's tree", async () => {
    // C is published; someone edits a file, adds one and removes one in a transaction of their own.
    await repo.server(["transaction"]);
    writeFileSync(join(layer(), "usr/bin/tool"), "#!/bin/sh\necho edited by hand\n");
    writeFileSync(join(layer(), "usr/share/by-hand"), "x\n");
    rmSync(join(layer(), "etc/empty"));
    await repo.server(["publish"]);
    const r = publish(a.C!);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/was changed since compat published it: reading .* again/);
    expectTree(a.C!);
    expect(JSON.parse(r.stdout).changes).toEqual({ written: 2, deleted: 1 });
  });

  it("refuses a delta whose base is not the published tree, before opening a transaction", async () => {
    const tags = (await repo.server(["tag", "-l", "-x"])).stdout;
    const r = publish(a.AB!);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(
      /applies to dev-2025\.06-compat-linux-x86_64-1750000000\.tar\.zst, but the published layer is not that one/,
    );
    expect((await repo.server(["tag", "-l", "-x"])).stdout).toBe(tags);
    expectTree(a.C!);
  });

  it("keeps a copy as .<arch>-NNN with --keep-copy (a template transaction)", async () => {
    const r = ok(publish(a.A!, "--keep-copy"));
    expect(r.backup).toBe(".x86_64-001");
    expectTree(a.A!);
    expectTree(a.C!, join(repo.root, "versions/2025.06/compat/linux/.x86_64-001"));
  });

  it("passes every shell metacharacter of a reason to cvmfs_server harmlessly", async () => {
    rmSync("/tmp/compat-pwned", { force: true });
    const r = ok(publish(a.B!, "--reason", HOSTILE));
    expectTree(a.B!);
    expect(existsSync("/tmp/compat-pwned")).toBe(false);
    const tag = (await repo.server(["tag", "-i", r.tag, "-x"])).stdout;
    expect(tag).toContain(
      "reason: a _b_ _c_ _d_ _ e _ f _ g _HOME _id_ __touch /tmp/compat-pwned_ _ _ _x_ _in _out _ _ _-rf _ _",
    );
    expect(history().at(-1)!.detail).toContain(HOSTILE);
    ok(rollback("--reason", HOSTILE));
    expect(existsSync("/tmp/compat-pwned")).toBe(false);
    // A reason is one line of printable text: a terminal escape or a newline is refused before anything runs.
    for (const bad of ["\u001b[31mred", "two\nlines", ""]) {
      const r = publish(a.C!, "--reason", bad);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--reason: /);
    }
  });

  it("publishes a new version with --ingest, and the repository's .cvmfsdirtab and compat make its nested catalog", async () => {
    await repo.server(["transaction"]);
    writeFileSync(join(repo.root, ".cvmfsdirtab"), "/versions/*/compat/*/*\n");
    await repo.server(["publish"]);
    const r = ok(publish(a.N!, "--ingest"));
    expect(r.method).toBe("ingest");
    expectTree(a.N!, join(repo.root, "versions/2026.06/compat/linux/x86_64"), "2026.06/compat/linux/x86_64");
    expect(await catalogs()).toContain("/versions/2026.06/compat/linux/x86_64\n");
    await repo.server(["tag", "-i", r.tag, "-x"]);
    expect(history().at(-1)).toMatchObject({ action: "publish", tag: r.tag });
  });

  it("shows the refusals cvmfs_server prints on stdout, aborts, and loses nothing", async () => {
    const tree = differencesFromArtifact(layer(), a.A!, TOP_DIR);
    const events = history().length;
    // A process with its working directory in the repository: publish refuses (on stdout).
    const squatter = spawn("sleep", ["60"], { cwd: repo.root, stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const r = publish(a.C!);
      expect(r.status).toBe(4);
      expect(r.stderr).toMatch(
        /cvmfs_server publish .* failed with exit status 1: .*open read-only file descriptors/,
      );
      expect(r.stderr).toMatch(/stdout:/);
    } finally {
      squatter.kill();
    }
    expect(repo.transactionOpen()).toBe(false);
    expect(differencesFromArtifact(layer(), a.A!, TOP_DIR)).toEqual(tree);
    expect(history().length).toBe(events);
    ok(publish(a.C!));
    expectTree(a.C!);
  });

  it("never joins or aborts someone else's transaction (exit 17), and says what to do", async () => {
    await repo.server(["transaction"]);
    try {
      const r = publish(a.B!);
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(/already has an open transaction .* that compat did not open/);
      expect(r.stderr).toContain(`cvmfs_server abort -f ${repo.name}`);
      expect(r.stderr).not.toMatch(/publish it|published or aborted/);
      expect(repo.transactionOpen()).toBe(true);
    } finally {
      await repo.server(["abort", "-f"]);
    }
    expectTree(a.C!);
  });

  it("refuses, changing nothing, when another publisher opens a transaction at the same moment (flag set, mount not yet read/write)", async () => {
    // The real cvmfs_server, run as another publisher would meet it: between compat's look at the
    // repository and its `transaction`, someone takes the transaction flag and has not remounted yet.
    const real = execFileSync("sh", ["-c", "command -v cvmfs_server"], { encoding: "utf8" }).trim();
    const bin = join(work, "racing-bin");
    mkdirSync(bin, { recursive: true });
    const flag = join("/var/spool/cvmfs", repo.name, "in_transaction.lock");
    writeFileSync(
      join(bin, "cvmfs_server"),
      `#!/bin/sh\nif [ "$1" = transaction ]; then : > '${flag}'; fi\nexec '${real}' "$@"\n`,
      { mode: 0o755 },
    );
    const events = history().length;
    try {
      const r = await compatAsync(
        ["publish", a.B!, "--to", `cvmfs:${repo.name}`, "--state", state, "--json"],
        {
          env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        },
      );
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/already has an open transaction .* that compat did not open/);
      expect(r.stderr).not.toMatch(/publish it|published or aborted/);
      // never aborted: the other publisher's flag is still there
      expect(repo.transactionOpen()).toBe(true);
    } finally {
      rmSync(flag, { force: true });
      rmSync(bin, { recursive: true, force: true });
    }
    expect(history().length).toBe(events);
    expectTree(a.C!);
    ok(publish(a.C!));
  });

  it("lets one of two publishers at once publish and refuses the other (same and different state dirs)", async () => {
    const run = (artifact: string, stateDir: string) =>
      new Promise<CliResult>((resolve) => {
        const child = spawn(
          process.execPath,
          [compatBin, "publish", artifact, "--to", `cvmfs:${repo.name}`, "--state", stateDir, "--json"],
          {
            env: { ...process.env, NO_COLOR: "1" },
          },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        child.on("close", (status) => resolve({ status, stdout, stderr }));
      });
    for (const other of [state, join(work, "state-2")]) {
      const [x, y] = await Promise.all([run(a.A!, state), run(a.B!, other)]);
      const winners = [x, y].filter((r) => r.status === 0);
      const losers = [x, y].filter((r) => r.status !== 0);
      expect(winners.length).toBeGreaterThanOrEqual(1);
      for (const l of losers) {
        expect(l.status, l.stderr).toBe(3);
        expect(l.stderr).toMatch(/locked by compat publish|already has an open transaction/);
      }
      expect(repo.transactionOpen()).toBe(false);
      const last = JSON.parse(winners.at(-1)!.stdout);
      // The layer is one artifact's tree, whole.
      const candidates = [a.A!, a.B!].map((art) => differencesFromArtifact(layer(), art, TOP_DIR));
      expect(candidates.some((d) => d.length === 0)).toBe(true);
      expect(last.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    rmSync(join(work, "state-2"), { recursive: true, force: true });
  });

  it("rejects a corrupt artifact before any transaction, and the repository keeps its layer", async () => {
    const good = ok(publish(a.C!));
    const tags = (await repo.server(["tag", "-l", "-x"])).stdout;
    const dir = join(work, "corrupt");
    mkdirSync(dir, { recursive: true });
    const copy = join(dir, a.B!.split("/").pop()!);
    const bytes = readFileSync(a.B!);
    for (let i = 5000; i < 5100; i++) bytes.writeUInt8(bytes.readUInt8(i) ^ 0xff, i);
    writeFileSync(copy, bytes);
    writeFileSync(`${copy}.manifest.json`, readFileSync(`${a.B!}.manifest.json`));
    const r = publish(copy);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/rejected/);
    expect((await repo.server(["tag", "-l", "-x"])).stdout).toBe(tags);
    expectTree(a.C!);
    expect(history().at(-1)!.tag).toBe(good.tag);
  });

  it("publishes the same way over ssh (a real sshd on localhost, the real cvmfs_server behind it)", async () => {
    const sshd = await startSshd(join(work, "ssh"));
    try {
      const to = [
        "--to",
        `cvmfs:${repo.name}@${sshd.host}`,
        "--ssh-config",
        sshd.config,
        "--state",
        state,
        "--json",
      ];
      const r = ok(compat(["publish", a.B!, ...to]));
      expect(r.target).toBe(`cvmfs:${repo.name}@stratum0`);
      expect(r.changes.written).toBeLessThan(12);
      expectTree(a.B!);
      ok(compat(["rollback", "--layer", TOP_DIR, ...to]));
      expectTree(a.C!);
    } finally {
      sshd.stop();
    }
  });

  it("refuses a corrupt patch and a changed base file inside the transaction, aborting, with nothing changed", async () => {
    ok(publish(a.A!));
    const dir = join(work, "corrupt-patch");
    mkdirSync(dir, { recursive: true });
    const tags = (await repo.server(["tag", "-l", "-x"])).stdout;
    const r = publish(corruptPatchCopy(a.AB!, dir));
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/zstd could not apply the patch .*corrupt patch|the patched file has sha256/);
    expect(repo.transactionOpen()).toBe(false);
    expect((await repo.server(["tag", "-l", "-x"])).stdout).toBe(tags);
    expectTree(a.A!);
  });

  it("refuses deltas that would reach outside the layer through its own symlinks, before any transaction", async () => {
    mkdirSync(join(work, "hostile"));
    const hostile = await makeHostileSet(join(work, "hostile"));
    ok(publish(hostile.base));
    const before = snapshot(hostile.outside);
    const tags = (await repo.server(["tag", "-l", "-x"])).stdout;
    for (const [artifact, detail] of [
      [
        hostile.throughMember,
        /\[symlink-escape\] abs\/evil: reached through abs -> .*outside, a symlink of the published layer/,
      ],
      [hostile.patchOntoSymlink, /\[symlink-escape\] abs: the patch would replace a symlink/],
      [hostile.deleteThrough, /\[symlink-escape\] abs\/victim: deletion reached through abs ->/],
    ] as const) {
      const r = publish(artifact);
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(detail);
    }
    expect(snapshot(hostile.outside)).toBe(before);
    expect((await repo.server(["tag", "-l", "-x"])).stdout).toBe(tags);
    ok(publish(hostile.symlinkBecomesDir));
    expect(snapshot(hostile.outside)).toBe(before);
    expect(readFileSync(join(layer(), "abs/inside"), "utf8")).toBe("inside\n");
  });
});
