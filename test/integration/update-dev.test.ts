/**
 * The update loop on the dev layer, as a user runs it (the CLI, real builds, real gates, a real
 * local publisher): staging holds the layer built without bookworm's security updates;
 * `compat update` rebuilds it into a candidate with green gates, a package diff and a delta under
 * 10 % of the full artifact; it is approved, promoted to staging (its delta) and production (its
 * full artifact), and each target's tree is then exactly the candidate's; the audit log verifies,
 * and does not after one byte of an old row is edited. Then the faults: a second update of the
 * same layer at once is refused naming the first; an update killed during its build or its gates
 * leaves the targets untouched and no candidate ready; it resumes; an update with nothing new says
 * so (exit 0). The happy path runs on PostgreSQL (the quick start runs it on SQLite); the
 * concurrency and kill cases run on both.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { indexArtifact } from "../../src/artifacts/entry-index.js";
import { packLayer } from "../../src/artifacts/pack.js";
import { killLeftovers } from "../../src/pipeline/lock.js";
import { listAudit } from "../../src/store/audit.js";
import { listCandidates } from "../../src/store/candidates.js";
import { listRuns } from "../../src/store/runs.js";
import type { Store } from "../../src/store/store.js";
import { compat, compatAsync } from "../helpers/cli.js";
import { type DevLayer, outdatedDevLayer } from "../helpers/dev-layer.js";
import { TOP_DIR, treeDigest } from "../helpers/layer-tree.js";
import { BACKENDS, tamper, useStores } from "../helpers/stores.js";
import { makeTestSite, type TestSite } from "../helpers/update-site.js";

const canBuild = process.getuid?.() === 0 && process.arch === "x64";
let work: string;
let old: DevLayer;
let oldArtifact: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-update-dev-"));
  if (!canBuild) return;
  old = await outdatedDevLayer();
  oldArtifact = (
    await packLayer({
      prefix: old.localPrefix,
      stack: "dev",
      version: "2025.06",
      os: "linux",
      arch: "x86_64",
      outDir: join(work, "old"),
    })
  ).artifact;
}, 1_200_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const held = (root: string) => treeDigest(join(root, "versions", TOP_DIR));

/** A site (staging: no approval; production: alice and bob) whose staging holds the outdated layer. */
/** compat watch starts compat update for what it finds (issue 14's policy build). */
const WATCH_BUILDS = "watch:\n  autoUpdate: {policy: build, minSeverity: low}\n";

async function siteWithOldStaging(
  stores: ReturnType<typeof useStores>,
  name: string,
  extraYaml = "",
): Promise<{ t: TestSite; store: Store }> {
  const { store, location } = await stores.fresh();
  const t = await makeTestSite(join(work, name), location, extraYaml);
  const r = compat(["publish", oldArtifact, "--to", "staging", "--config", t.configFile]);
  expect(r.status, r.stderr).toBe(0);
  return { t, store };
}

const update = (t: TestSite, extra: string[] = [], onStderr?: (line: string, child: ChildProcess) => void) =>
  compatAsync(["update", "dev", "--arch", "x86_64", "--config", t.configFile, ...extra], { onStderr });

describe.runIf(canBuild)("compat update on the dev layer (postgres)", () => {
  const stores = useStores("postgres");
  let t: TestSite;
  let store: Store;
  let result: {
    candidate: { id: number; state: string; fullSha256: string; deltaSha256: string };
    full: { path: string; size: number; sha256: string };
    delta: { path: string; size: number; sha256: string };
    packageDiff: {
      upgraded: { name: string; from: string; to: string }[];
      added: unknown[];
      removed: unknown[];
    };
    gates: { gate: string; state: string; report: { summary: string } }[];
  };

  it("builds a candidate with green gates, its package diff and a delta under 10 % of the full artifact", async () => {
    ({ t, store } = await siteWithOldStaging(stores, "happy"));
    const before = held(t.staging);
    const r = await update(t, ["--reason", "bookworm security updates", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    result = JSON.parse(r.stdout);
    expect(result.candidate.state).toBe("ready");
    expect(result.gates.map((g) => [g.gate, g.state])).toEqual(result.gates.map((g) => [g.gate, "passed"]));
    expect(result.gates.length).toBeGreaterThanOrEqual(2);
    expect(result.packageDiff.upgraded.length).toBeGreaterThan(0);
    // what the security suite brought is an upgrade with a +debNuM or ~debNuM version
    expect(result.packageDiff.upgraded.some((u) => /deb12u/.test(u.to))).toBe(true);
    expect(result.delta.size / result.full.size).toBeLessThan(0.1);
    // the published layer was not touched by the update
    expect(held(t.staging)).toBe(before);
    // people see the same
    const shown = compat(["candidate", String(result.candidate.id), "--config", t.configFile]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/packages +\d+ upgraded/);
    expect(shown.stdout).toMatch(/delta +passed/);
  }, 1_200_000);

  it("is approved, promoted to staging (delta) and production (full); each target then holds exactly the candidate", async () => {
    const id = String(result.candidate.id);
    let r = compat(["promote", id, "--to", "production", "--config", t.configFile]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/0 valid: 2 missing/);
    for (const who of ["alice", "bob"] as const) {
      r = compat(["approve", id, "--key", t.keys[who].privateKey, "--config", t.configFile]);
      expect(r.status, r.stderr).toBe(0);
    }
    r = compat(["promote", id, "--to", "staging", "--config", t.configFile, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).artifact).toMatchObject({ kind: "delta", sha256: result.delta.sha256 });
    r = compat(["promote", id, "--to", "production", "--config", t.configFile, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).artifact).toMatchObject({ kind: "full", sha256: result.full.sha256 });
    const { index } = await indexArtifact(result.full.path);
    const { indexTree } = await import("../../src/artifacts/entry-index.js");
    const { diffIndexes } = await import("../../src/artifacts/diff.js");
    for (const root of [t.staging, t.production]) {
      const d = diffIndexes(index, indexTree(join(root, "versions", TOP_DIR)));
      expect([...d.added, ...d.removed, ...d.changed], root).toEqual([]);
    }
    r = compat(["status", "--config", t.configFile, "--json"]);
    const row = JSON.parse(r.stdout).rows.find((x: { arch: string }) => x.arch === "x86_64");
    expect(row.targets.staging).toMatchObject({
      sha256: result.full.sha256,
      kind: "delta",
      candidate: result.candidate.id,
    });
    expect(row.targets.production).toMatchObject({
      sha256: result.full.sha256,
      kind: "full",
      candidate: result.candidate.id,
    });
  });

  it("compat log --verify passes, and fails after one byte of an old row is edited in the database", async () => {
    let r = compat(["log", "--verify", "--config", t.configFile]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/intact audit log/);
    // one byte of row 3 (of many): the first letter of its actor
    const entries = await listAudit(store);
    expect(entries.length).toBeGreaterThan(10);
    const actor = entries.find((e) => e.seq === 3)!.actor;
    const edited = `${actor.startsWith("x") ? "y" : "x"}${actor.slice(1)}`;
    expect(Buffer.byteLength(edited)).toBe(Buffer.byteLength(actor));
    await tamper(t.site.store, "update audit_log set actor = ? where seq = ?", [edited, 3]);
    r = compat(["log", "--verify", "--config", t.configFile]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/row 3 is bad/);
  });

  it("says there is nothing to update when the rebuild has the same packages and spec (exit 0)", async () => {
    const r = await update(t);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /nothing to update: the rebuilt layer has the same \d+ packages and the same spec as what staging holds/,
    );
    expect(await listCandidates(store, { state: ["building", "gating", "ready"] })).toEqual([]);
  }, 1_200_000);
});

describe.runIf(canBuild).each(BACKENDS)("compat update faults (%s)", (backend) => {
  const stores = useStores(backend);
  let t: TestSite;
  let store: Store;
  let before: string;

  it("refuses a second update of the same layer while one runs, and one killed in its build leaves no candidate and the target untouched", async () => {
    ({ t, store } = await siteWithOldStaging(stores, `faults-${backend}`, WATCH_BUILDS));
    before = held(t.staging);
    type Ran = Awaited<ReturnType<typeof update>>;
    let second: Ran | undefined;
    let watched: Ran | undefined;
    const first = await update(t, [], (line, child) => {
      if (second || !/bootstrap: mmdebstrap/.test(line)) return;
      second = { status: -1, signal: null, stdout: "", stderr: "" };
      // while the first runs: a second update, and a watch whose policy starts one
      void Promise.all([
        update(t),
        compatAsync(["watch", "--once", "--json", "--config", t.configFile]),
      ]).then(([u, w]) => {
        second = u;
        watched = w;
        child.kill("SIGKILL");
      });
    });
    expect(first.signal).toBe("SIGKILL");
    const leaseHeld =
      /update:dev:x86_64 is held by .* \(pid \d+, since .*\): compat update dev --arch x86_64/;
    expect(second?.status, second?.stderr).toBe(3);
    expect(second?.stderr).toMatch(leaseHeld);
    // the watch found bookworm-security's upgrades on staging and started compat update for them
    expect(watched?.status, watched?.stderr).toBe(0);
    const report = JSON.parse(watched!.stdout) as {
      layers: { target: string; sources: { id: string; status: string }[]; opened: unknown[] }[];
      proposals: { target: string; packages: string[]; error?: string }[];
    };
    expect(report.layers.find((l) => l.target === "staging")?.sources).toEqual([
      expect.objectContaining({ id: "debian-security", status: "ok" }),
    ]);
    const [proposal] = report.proposals;
    expect(proposal?.target).toBe("staging");
    expect(proposal?.packages.length).toBeGreaterThan(0);
    expect(proposal?.packages.every((p) => /^[a-z0-9][a-z0-9+.-]+=\S+$/.test(p))).toBe(true);
    expect(proposal?.error).toMatch(leaseHeld);
    expect(held(t.staging)).toBe(before);
    const status = compat(["status", "--config", t.configFile, "--json"]);
    expect(status.status, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).rows[0].candidates).toEqual([]);
    const runs = (await listRuns(store, { layer: "dev" })).filter((r) => r.kind === "update");
    expect(runs[0]?.state).toBe("interrupted");
    // what the killed build left running (mmdebstrap), as a resume would stop it
    const buildRunId = (runs[0]?.detail as { buildRunId?: string } | null)?.buildRunId;
    expect(buildRunId).toBeTruthy();
    await killLeftovers(buildRunId!);
  }, 600_000);

  it("resumes the killed build, is killed while gating (the candidate fails, never ready), and its gates run again", async () => {
    expect(t, "the case before made the killed update").toBeDefined();
    const resumed = await update(t, ["--resume"], (line, child) => {
      if (/^gate delta: delta applies/.test(line)) child.kill("SIGKILL");
    });
    expect(resumed.signal, resumed.stderr).toBe("SIGKILL");
    expect(resumed.stderr).toMatch(/Resuming debian layer .* \(\d+ of \d+ stages done before\)/);
    // the next command of the loop finds the update interrupted: its candidate fails (no longer open)
    let r = compat(["status", "--config", t.configFile, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).rows[0].candidates).toEqual([]);
    const [c] = await listCandidates(store, { layer: "dev" });
    expect(c?.state).toBe("failed");
    expect(held(t.staging)).toBe(before);
    r = compat(["approve", String(c!.id), "--key", t.keys.alice.privateKey, "--config", t.configFile]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/candidate \d+ is failed: it cannot be approved/);
    r = compat(["gate", String(c!.id), "--config", t.configFile]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: ready/);
  }, 1_800_000);
});
