/**
 * The development layer (examples/dev.yaml, built by the shared test helper) on a real CernVM-FS
 * 2.12 stratum 0: published, run from the real `/cvmfs/<repo>` mount, updated ("python3.11 and
 * libsqlite3 updated": a few hundred files changed, one added, one removed) in proportion to the
 * change, and compat killed with SIGKILL at several moments of a publish — while it archives the
 * undo, while tar extracts in the transaction, while cvmfs_server publish runs — each followed by a
 * publish that recovers by itself (aborting the killed publish's transaction, or recording the
 * revision it published) and ends with the new layer, nothing lost, the history saying what happened.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packLayer } from "../../src/artifacts/pack.js";
import { runInLayer } from "../../src/exec/sandbox.js";
import { PublishJournal } from "../../src/publish/cvmfs-journal.js";
import { type CliResult, compat, compatBin } from "../helpers/cli.js";
import { cvmfsUnavailable, makeTestRepository, type TestRepository } from "../helpers/cvmfs-server.js";
import { type DevLayer, devLayer } from "../helpers/dev-layer.js";
import { makeLayerTree, upgradeLayerTree } from "../helpers/layer-tree.js";
import { differencesFromArtifact } from "../helpers/tree-compare.js";

const unavailable = await cvmfsUnavailable();
if (unavailable) console.warn(`cvmfs-recovery: skipped: ${unavailable}`);

const TOP = "2025.06/compat/linux/x86_64";
let work: string;
let repo: TestRepository;
let dev: DevLayer;
let state: string;
let full: string;
let updated: string;

const args = (artifact: string) => ["publish", artifact, "--to", `cvmfs:${repo.name}`, "--state", state];
const publish = (artifact: string): CliResult => compat([...args(artifact), "--json"]);
const history = () =>
  JSON.parse(compat(["history", "--to", `cvmfs:${repo.name}`, "--state", state, "--json"]).stdout).events as {
    action: string;
    artifact: string;
    tag: string | null;
    detail: string | null;
  }[];
const expectTree = (artifact: string, top = TOP) =>
  expect(differencesFromArtifact(join(repo.root, "versions", top), artifact, top)).toEqual([]);

/**
 * Run python (ssl, sqlite3) and perl of the published dev layer: the sandbox binds the repository's
 * real mount (overlay over the cvmfs2 FUSE client) at the layer's build prefix, read-only.
 */
async function expectRunsFromCvmfs(): Promise<void> {
  const repository = dev.layer.repository;
  const run = await runInLayer({ root: repo.root, repository }, [`${dev.prefix}/startprefix`], {
    readOnlyLayer: true,
    input: `python3 -c "import ssl, sqlite3; print('python', sqlite3.sqlite_version)"; perl -MPOSIX -e 'print "perl ok\\n"'; grep ' /cvmfs/${repository} ' /proc/self/mountinfo\n`,
    env: { HOME: "/root", USER: "root", TERM: "dumb", PATH: "/usr/bin:/bin" },
    okStatuses: [0, 1, 2, 127],
  });
  expect(run.stdout).toMatch(/^python 3\.\d+\.\d+$/m);
  expect(run.stdout).toMatch(/^perl ok$/m);
  const esc = (x: string) => x.replaceAll(".", "\\.");
  expect(run.stdout).toMatch(
    new RegExp(` /cvmfs/${esc(repository)} .* - overlay overlay_${esc(repo.name)} `),
  );
}

/** The children of `pid` whose command line matches. */
function childrenMatching(pid: number, re: RegExp): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== pid) continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ");
      if (re.test(cmd)) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Run `compat publish ARTIFACT` and send it `signal` (SIGKILL) the moment it has a child matching
 * `moment`, or has printed a line matching it on stderr (polled every 5 ms); resolves once it has
 * exited, with its status and what it printed.
 */
function publishKilledAt(
  artifact: string,
  moment: RegExp | { stderr: RegExp },
  signal: NodeJS.Signals = "SIGKILL",
): Promise<{ killed: boolean; status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, [compatBin, ...args(artifact)], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    let killed = false;
    child.stderr!.on("data", (c) => (stderr += c));
    const timer = setInterval(() => {
      const now =
        moment instanceof RegExp
          ? child.pid !== undefined && childrenMatching(child.pid, moment).length > 0
          : moment.stderr.test(stderr);
      if (now) {
        killed = true;
        child.kill(signal);
        clearInterval(timer);
      }
    }, 5);
    child.on("close", (status) => {
      clearInterval(timer);
      resolve({ killed, status, stderr });
    });
  });
}

/** Publish until the killed publish's leftovers are done (compat says to wait while they run). */
async function publishRecovering(artifact: string): Promise<CliResult> {
  for (let i = 0; ; i++) {
    const r = publish(artifact);
    if (r.status === 0 || !/still run/.test(r.stderr) || i > 60) return r;
    await new Promise((res) => setTimeout(res, 500));
  }
}

const NEXT = "2026.06/compat/linux/x86_64";
/** A synthetic layer at NEXT for the other moments (a 24 MiB library rewritten: tar, undo and publish last long enough to be caught). */
const synthetic: Record<string, string> = {};

beforeAll(async () => {
  if (unavailable) return;
  work = mkdtempSync(join(tmpdir(), "compat-cvmfs-recovery-"));
  state = join(work, "state");
  dev = await devLayer();
  const base = {
    stack: "dev",
    version: "2025.06",
    os: "linux",
    arch: "x86_64" as const,
    outDir: join(work, "out"),
  };
  full = (await packLayer({ ...base, prefix: dev.localPrefix, epoch: 1_750_000_000 })).artifact;
  // An update of python3.11's standard library and libsqlite3, in a copy of the layer.
  const prefix = join(work, "updated/versions", TOP);
  execFileSync("mkdir", ["-p", join(prefix, "..")]);
  execFileSync("cp", ["-a", dev.localPrefix, prefix]);
  execFileSync("sh", [
    "-c",
    `cd '${prefix}' && find usr/lib/python3.11 -name '*.py' -size +8k | head -300 | while read -r f; do echo '# updated' >> "$f"; done
     lib=$(ls usr/lib/x86_64-linux-gnu/libsqlite3.so.0.* | head -1); printf 'x' | dd of="$lib" bs=1 seek=4096 conv=notrunc 2>/dev/null
     rm -f usr/share/common-licenses/GPL-2 && echo new > usr/share/compat-update.txt`,
  ]);
  updated = (await packLayer({ ...base, prefix, epoch: 1_750_000_100 })).artifact;
  const next = join(work, "next/versions", NEXT);
  const nextBase = { ...base, version: "2026.06", prefix: next };
  makeLayerTree(next, { files: 300, bigFileMiB: 24, seed: "S1" });
  synthetic.S1 = (await packLayer({ ...nextBase, epoch: 1_760_000_000 })).artifact;
  makeLayerTree(join(work, "s2"), { files: 0, bigFileMiB: 24, seed: "S2" });
  execFileSync("cp", [join(work, "s2/usr/lib/libbig.so"), join(next, "usr/lib/libbig.so")]);
  upgradeLayerTree(next);
  synthetic.S2 = (await packLayer({ ...nextBase, epoch: 1_760_000_100 })).artifact;
  synthetic.D12 = (
    await packLayer({ ...nextBase, epoch: 1_760_000_200, deltaFrom: synthetic.S1, noPatches: true })
  ).artifact;
  repo = await makeTestRepository("recovery");
}, 900_000);
afterAll(async () => {
  await repo?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe.skipIf(unavailable)(
  "the dev layer on a real CernVM-FS 2.12 stratum 0, and publishes killed with SIGKILL",
  () => {
    it("publishes the dev layer, which runs from the real /cvmfs mount", async () => {
      const r = publish(full);
      expect(r.status, r.stderr).toBe(0);
      expectTree(full);
      await expectRunsFromCvmfs();
    });

    it("recovers by itself from a publish killed while tar extracts in the transaction, and ends with the new layer", async () => {
      const k = await publishKilledAt(updated, /^tar -x /);
      expect(k.killed).toBe(true);
      // The killed publish's transaction is still open, its journal entry unfinished.
      expect(repo.transactionOpen()).toBe(true);
      expect(new PublishJournal(state, repo.name).unfinished()?.step).toBe("open");
      const r = await publishRecovering(updated);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        /recovered: compat publish .* was killed with its transaction open: aborted it \(cvmfs_server abort -f .*\); nothing it did was published/,
      );
      expectTree(updated);
      expect(JSON.parse(r.stdout).changes.written).toBeLessThan(400);
      const events = history();
      expect(events.map((e) => e.action)).toEqual(["publish", "publish"]);
      expect(events[1]!.detail).toMatch(
        /recovered: .* killed with its transaction open; aborted it with cvmfs_server abort -f/,
      );
      expect(new PublishJournal(state, repo.name).entries().map((e) => e.outcome)).toEqual([
        "published",
        expect.stringMatching(/^recovered: aborted by compat pid \d+$/),
        "published",
      ]);
      expect(repo.transactionOpen()).toBe(false);
    });

    it("loses nothing when killed while it archives the undo (before any transaction)", async () => {
      const first = publish(synthetic.S1!);
      expect(first.status, first.stderr).toBe(0);
      const k = await publishKilledAt(synthetic.S2!, /^tar --create /);
      expect(k.killed).toBe(true);
      expect(repo.transactionOpen()).toBe(false);
      expectTree(synthetic.S1!, NEXT);
      const r = publish(synthetic.S2!);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr, r.stderr).not.toMatch(/recovered:/);
      expectTree(synthetic.S2!, NEXT);
      // The undo archive the killed publish began is gone; only the last change's is kept.
      expect(readdirSync(join(state, "undo", repo.name, NEXT.replaceAll("/", "_")))).toHaveLength(1);
    });

    it("recovers from a publish killed while cvmfs_server publish runs: records its revision, or aborts it", async () => {
      const before = history().length;
      const k = await publishKilledAt(synthetic.S1!, /cvmfs_server publish /);
      expect(k.killed).toBe(true);
      const r = await publishRecovering(synthetic.S1!);
      expect(r.status, r.stderr).toBe(0);
      // cvmfs_server either finished its publish (its stdout is a pipe to the dead compat) or died of SIGPIPE.
      const recorded =
        /was killed after its revision compat-\S+ was published; recorded it in the history/.test(r.stderr);
      if (!recorded) expect(r.stderr).toMatch(/was killed with its transaction open: aborted it/);
      expectTree(synthetic.S1!, NEXT);
      const events = history().slice(before);
      expect(events.map((e) => e.artifact)).toEqual([synthetic.S1!.split("/").pop()]);
      // Recorded: the layer already comes from S1, so publishing it again is a no-op (no transaction).
      if (recorded) {
        expect(events[0]!.detail).toMatch(/recorded after the fact/);
        expect(JSON.parse(r.stdout).method).toBe("unchanged");
      }
      expect(repo.transactionOpen()).toBe(false);
    });

    it("recovers from a delta killed while tar extracts it, applies it, and rolls it back", async () => {
      const k = await publishKilledAt(synthetic.D12!, /^tar -x /);
      expect(k.killed).toBe(true);
      const r = await publishRecovering(synthetic.D12!);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/recovered: .* was killed with its transaction open: aborted it/);
      expectTree(synthetic.S2!, NEXT);
      const back = compat([
        "rollback",
        "--to",
        `cvmfs:${repo.name}`,
        "--state",
        state,
        "--layer",
        NEXT,
        "--json",
      ]);
      expect(back.status, back.stderr).toBe(0);
      expectTree(synthetic.S1!, NEXT);
      expect(existsSync(JSON.parse(back.stdout).keptAs)).toBe(true);
    });

    it.each([
      ["while it verifies the artifact (before the transaction)", { stderr: /verifying/ }, false],
      ["while tar extracts in the transaction", /^tar -x /, true],
    ] as const)(
      "SIGINT %s: 'interrupted; nothing changed', exit 130, no transaction left, no recovery needed",
      async (_, moment, opened) => {
        const tags = (await repo.server(["tag", "-l", "-x"])).stdout;
        const events = history().length;
        const undo = readdirSync(join(state, "undo", repo.name, NEXT.replaceAll("/", "_")));
        const entries = new PublishJournal(state, repo.name).entries().length;
        const k = await publishKilledAt(synthetic.S2!, moment, "SIGINT");
        expect(k.killed).toBe(true);
        expect(k.status, k.stderr).toBe(130);
        expect(k.stderr).toMatch(/warn: SIGINT: stopping the publish/);
        expect(k.stderr).toMatch(/error: publish of .* interrupted; nothing changed/);
        expect(repo.transactionOpen()).toBe(false);
        expectTree(synthetic.S1!, NEXT);
        expect((await repo.server(["tag", "-l", "-x"])).stdout).toBe(tags);
        expect(history().length).toBe(events);
        expect(readdirSync(join(state, "undo", repo.name, NEXT.replaceAll("/", "_")))).toEqual(undo);
        expect(readdirSync(join(state, "spool")).filter((f) => f.startsWith(repo.name))).toEqual([]);
        const journal = new PublishJournal(state, repo.name);
        expect(journal.unfinished()).toBeUndefined();
        // Interrupted inside the transaction: aborted, and the journal says so.
        expect(journal.entries().length).toBe(opened ? entries + 1 : entries);
        if (opened) {
          expect(k.stderr).toMatch(/aborted the transaction/);
          expect(journal.entries().at(-1)!.outcome).toBe("aborted: interrupted");
        }
      },
      300_000,
    );

    it("publishes after the interrupts without any recovery, and the same artifact again as a no-op", async () => {
      const r = publish(synthetic.S2!);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/recovered:/);
      expectTree(synthetic.S2!, NEXT);
      const tags = (await repo.server(["tag", "-l", "-x"])).stdout;
      const events = history().length;
      const again = publish(synthetic.S2!);
      expect(again.status, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({
        method: "unchanged",
        changes: { written: 0, deleted: 0 },
      });
      expect((await repo.server(["tag", "-l", "-x"])).stdout).toBe(tags);
      expect(history().length).toBe(events);
    });
  },
);
