/**
 * `compat prune` on what a killed pack, a refused and a killed build, a failed build and repeated
 * publishes leave: `--dry-run` lists exactly the abandoned things with their sizes, and without it
 * exactly those are removed; what a live process owns, the newest runs, resumable runs and the
 * kept layer a rollback restores are never touched.
 */
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PidLock } from "../../src/pipeline/lock.js";
import { compat, compatBin, projectRoot } from "../helpers/cli.js";
import { makeArtifactPair, makeLayerTree, TOP_DIR } from "../helpers/layer-tree.js";

let work: string;
let artifactA: string;
let artifactB: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-prune-"));
  ({ artifactA, artifactB } = await makeArtifactPair(work, { files: 100 }));
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Listed {
  kind: string;
  path: string;
  bytes: number;
  reason: string;
}

const prune = (args: string[]) => {
  const r = compat(["prune", ...args, "--json"]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { dryRun: boolean; items: Listed[]; totalBytes: number };
};

/** `compat pack`, SIGKILLed (with what it started, by pid) once its partial artifact has bytes. */
async function killedPack(prefix: string, out: string): Promise<number> {
  mkdirSync(out, { recursive: true });
  const child = spawn(process.execPath, [compatBin, "pack", prefix, "--stack", "dev", "-o", out, "-q"], {
    stdio: "ignore",
  });
  const pid = child.pid!;
  const exited = new Promise((resolve) => child.on("close", resolve));
  const partial = () => readdirSync(out).find((n) => n.includes(".partial-"));
  for (let i = 0; i < 600 && !(partial() && statSync(join(out, partial()!)).size > 0); i++)
    await new Promise((r) => setTimeout(r, 10));
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  for (const p of [pid, ...children.map(Number)])
    try {
      process.kill(p, "SIGKILL");
    } catch {
      /* gone already */
    }
  await exited;
  return pid;
}

/** A run directory as `compat build` writes it, with its build directory beside the layer. */
function leftRun(root: string, runs: string, runId: string, result?: object, buildBytes = 0): string {
  const target = join(root, "versions", TOP_DIR);
  const workDir = join(dirname(target), `.build-${runId}`);
  mkdirSync(join(runs, runId, "stages"), { recursive: true });
  writeFileSync(join(runs, runId, "plan.json"), JSON.stringify({ runId, target, workDir }));
  writeFileSync(join(runs, runId, "spec.yaml"), "repository: software.example.org\n");
  if (result) writeFileSync(join(runs, runId, "result.json"), JSON.stringify(result));
  mkdirSync(join(workDir, "prefix"), { recursive: true });
  if (buildBytes) writeFileSync(join(workDir, "prefix/data"), Buffer.alloc(buildBytes, 1));
  return workDir;
}

describe("compat prune", () => {
  it("lists what a killed pack and refused, killed and failed builds left, with sizes, and removes exactly that", async () => {
    const root = join(work, "root");
    const runs = join(work, "runs");
    const art = join(work, "art");
    // a killed pack: its partial artifact and its FIFO
    const prefix = join(work, "packed/versions", TOP_DIR);
    makeLayerTree(prefix, { files: 300, bigFileMiB: 48 });
    const packPid = await killedPack(prefix, art);
    const left = readdirSync(art).sort();
    expect(left.map((n) => n.replace(/\d+$/, "PID"))).toEqual([
      expect.stringMatching(/^\.dev-2025\.06-compat-linux-x86_64-\d+\.tar\.zst\.fifo-PID$/),
      expect.stringMatching(/^\.dev-2025\.06-compat-linux-x86_64-\d+\.tar\.zst\.partial-PID$/),
    ]);
    // a partial of a pack that is still running (this process) is not abandoned
    writeFileSync(join(art, `.other.tar.zst.partial-${process.pid}`), "x");

    // a build refused by an older compat while another (live) build held the layer
    const live = "20260102-000000-x86_64-aaaa";
    const liveWork = leftRun(root, runs, live, undefined, 4096);
    const liveLock = await PidLock.acquire(join(runs, live, "lock"), `build run ${live}`);
    const targetLock = await PidLock.acquire(
      join(root, "versions/2025.06/compat/linux/.x86_64.build-lock"),
      `a build of ${join(root, "versions", TOP_DIR)} (run ${live})`,
    );
    const refused = "20260102-000001-x86_64-bbbb";
    const refusedWork = leftRun(root, runs, refused);
    // a build killed with SIGKILL: no result, its tree half built
    const killed = "20260101-120000-x86_64-cccc";
    const killedWork = leftRun(root, runs, killed, undefined, 3 << 20);
    // a failed build: its build directory goes, its run (the logs) stays
    const failed = "20260101-110000-x86_64-dddd";
    const failedWork = leftRun(root, runs, failed, { status: "failed", stage: "bootstrap" }, 1 << 20);
    // an old successful run, beyond --keep-runs
    const old = "20250101-000000-x86_64-eeee";
    mkdirSync(join(runs, old));
    writeFileSync(join(runs, old, "result.json"), JSON.stringify({ status: "success" }));

    try {
      const args = ["--root", root, "--runs-dir", runs, "--artifacts", art, "--keep-runs", "4"];
      const dry = prune([...args, "--dry-run"]);
      const byPath = new Map(dry.items.map((i) => [i.path, i]));
      const expected = [
        join(art, left[0]!),
        join(art, left[1]!),
        refusedWork,
        killedWork,
        failedWork,
        join(runs, refused),
        join(runs, killed),
        join(runs, old),
      ];
      expect([...byPath.keys()].sort()).toEqual(expected.sort());
      expect(byPath.get(join(art, left[1]!))).toMatchObject({
        kind: "partial",
        bytes: expect.any(Number),
        reason: expect.stringContaining(`left by process ${packPid}, which is gone (a killed pack)`),
      });
      expect(byPath.get(join(art, left[1]!))!.bytes).toBeGreaterThan(0);
      expect(byPath.get(killedWork)).toMatchObject({ kind: "build" });
      expect(byPath.get(killedWork)!.bytes).toBeGreaterThanOrEqual(3 << 20);
      expect(byPath.get(join(runs, old))!.reason).toBe("older than the newest 4 runs");
      expect(dry.totalBytes).toBe(dry.items.reduce((n, i) => n + i.bytes, 0));
      // the dry run removed nothing; its text form shows the sizes and the total
      for (const p of expected) expect(existsSync(p)).toBe(true);
      const text = compat(["prune", ...args, "--dry-run"]);
      expect(text.stdout).toMatch(/KIND\s+SIZE\s+PATH\s+WHY/);
      expect(text.stdout).toMatch(/build\s+[\d.]+ MiB\s+.*\.build-20260101-120000-x86_64-cccc/);
      expect(text.stdout).toMatch(/would free [\d.]+ MiB \(dry run: nothing was removed/);

      const done = prune(args);
      expect(done.dryRun).toBe(false);
      expect(done.items.map((i) => i.path).sort()).toEqual(expected.sort());
      for (const p of expected) expect(existsSync(p)).toBe(false);
      // what a live process owns, and the failed run's logs, are still there
      expect(existsSync(liveWork)).toBe(true);
      expect(existsSync(join(runs, live))).toBe(true);
      expect(existsSync(join(runs, failed))).toBe(true);
      expect(existsSync(join(art, `.other.tar.zst.partial-${process.pid}`))).toBe(true);
      expect(prune([...args, "--dry-run"]).items).toEqual([]);
    } finally {
      await liveLock.release();
      await targetLock.release();
    }
    // once that build is gone, its directory is abandoned too
    expect(
      prune(["--root", root, "--runs-dir", runs, "--artifacts", art, "--dry-run"]).items.map((i) => i.path),
    ).toContain(liveWork);
  }, 120_000);

  it("a run whose build directory was pruned says so when resumed (exit 2), instead of building on nothing", () => {
    const spec = join(projectRoot, "examples/dev.yaml");
    const root = join(work, "resume-root");
    const runs = join(work, "resume-runs");
    const dry = compat(["build", spec, "--root", root, "--dry-run", "--json"]);
    expect(dry.status, dry.stderr).toBe(0);
    const runId = "20260103-000000-x86_64-ffff";
    const workDir = join(root, "versions/2025.06/compat/linux", `.build-${runId}`);
    const plan = {
      ...JSON.parse(dry.stdout),
      runId,
      workDir,
      prefixDir: join(workDir, "prefix"),
      createdAt: "",
    };
    mkdirSync(join(runs, runId, "stages"), { recursive: true });
    writeFileSync(join(runs, runId, "plan.json"), JSON.stringify(plan));
    writeFileSync(join(runs, runId, "spec.yaml"), readFileSync(spec));
    for (const stage of ["preflight", "bootstrap"])
      writeFileSync(join(runs, runId, `stages/${stage}.done`), "{}");
    const r = compat(["build", spec, "--root", root, "--runs-dir", runs, "--resume", runId]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`cannot resume run ${runId}: its build directory ${workDir} is gone`);
    expect(r.stderr).toContain("hint: start a new build without --resume");
  });

  it("removes kept layers beyond --keep-backups, never the one rollback restores", () => {
    const repo = join(work, "repo");
    mkdirSync(repo);
    for (const a of [artifactA, artifactB, artifactA, artifactB])
      expect(compat(["publish", a, "--to", `local:${repo}`, "-q"]).status).toBe(0);
    const parent = join(repo, "versions/2025.06/compat/linux");
    expect(readdirSync(parent).sort()).toEqual([".x86_64-001", ".x86_64-002", ".x86_64-003", "x86_64"]);
    // without --keep-backups, kept layers are not pruned at all
    expect(prune(["--root", repo, "--runs-dir", join(work, "no-runs"), "--dry-run"]).items).toEqual([]);
    const dry = prune([
      "--root",
      repo,
      "--runs-dir",
      join(work, "no-runs"),
      "--keep-backups",
      "1",
      "--dry-run",
    ]);
    expect(dry.items.map((i) => [i.kind, i.path])).toEqual([
      ["backup", join(parent, ".x86_64-001")],
      ["backup", join(parent, ".x86_64-002")],
    ]);
    // 0 keeps the one the last publication kept: rollback still works
    const all = prune(["--root", repo, "--runs-dir", join(work, "no-runs"), "--keep-backups", "0"]);
    expect(all.items.map((i) => i.path)).toEqual([join(parent, ".x86_64-001"), join(parent, ".x86_64-002")]);
    expect(readdirSync(parent).sort()).toEqual([".x86_64-003", "x86_64"]);
    expect(compat(["rollback", "--to", `local:${repo}`]).status).toBe(0);
  });
});
