/**
 * `compat serve` as processes: killed with SIGKILL while a promotion job runs (on restart the run
 * is interrupted, nothing was published, the audit chain holds, and the same promotion then
 * works), and two servers on one PostgreSQL database serving the same state and starting a job
 * once (the job's lease), whichever server is asked.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoreLocation } from "../../src/store/location.js";
import { openStore } from "../../src/store/open.js";
import { publishToSiteTarget } from "../../src/update/promote.js";
import { compat } from "../helpers/cli.js";
import { ask } from "../helpers/http.js";
import { makeArtifactPair, TOP_DIR, treeDigest } from "../helpers/layer-tree.js";
import { startServe } from "../helpers/serve-process.js";
import { useStores } from "../helpers/stores.js";
import { makeTestSite, seedCandidate } from "../helpers/update-site.js";

let work: string;
let pair: Awaited<ReturnType<typeof makeArtifactPair>>;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-serve-faults-"));
  pair = await makeArtifactPair(join(work, "pair"), { files: 100 });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (artifact: string) =>
  JSON.parse(readFileSync(`${artifact}.manifest.json`, "utf8")).sha256 as string;
const held = (root: string) => {
  try {
    return treeDigest(join(root, "versions", TOP_DIR));
  } catch {
    return null;
  }
};
const alive = (pid: number) => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
  } catch {
    return false;
  }
};

/** A site over `location` with A on staging, candidate B ready, and users made with compat user add. */
async function site(dir: string, location: StoreLocation) {
  const t = await makeTestSite(dir, location);
  const store = await openStore(location, { actor: "tester" });
  try {
    await publishToSiteTarget(t.site, store, pair.artifactA, "staging");
    const c = await seedCandidate(t, store, {
      full: pair.artifactB,
      delta: pair.deltaAB,
      baseSha256: sha(pair.artifactA),
      requestedBy: "max",
    });
    const token = (name: string, role: string) => {
      const r = compat(["user", "add", name, "--role", role, "--config", t.configFile, "--json"], {
        cwd: t.dir,
      });
      expect(r.status, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { token: string }).token;
    };
    return { t, candidate: c.id, max: token("max", "maintainer"), root: token("root", "admin") };
  } finally {
    await store.close();
  }
}

async function runEnd(url: string, token: string, run: number): Promise<string> {
  for (;;) {
    const r = await ask(url, `/api/v1/runs/${run}`, { token });
    const state = (r.json as { state: string }).state;
    if (state !== "running") return state;
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe("compat serve: SIGKILL during a job", () => {
  const stores = useStores("sqlite");
  it("on restart the job's run is interrupted, nothing was published, and the promotion then works", async () => {
    const s0 = await site(join(work, "kill"), await stores.location());
    const { t } = s0;
    const promote = (url: string) =>
      ask(url, `/api/v1/candidates/${s0.candidate}/promote`, {
        method: "POST",
        token: s0.max,
        body: { target: "staging" },
      });
    const s = await startServe(["--config", t.configFile], t.dir);
    const r = await promote(s.url);
    expect(r.status, r.text).toBe(202);
    const run = (r.json as { run: { id: number } }).run.id;
    // freeze the job before it can publish, kill the server, then let the job see its server gone
    const job = Number(
      execFileSync("ps", ["--ppid", String(s.child.pid), "-o", "pid="], { encoding: "utf8" }).trim(),
    );
    expect(job).toBeGreaterThan(1);
    process.kill(job, "SIGSTOP");
    s.child.kill("SIGKILL");
    expect((await s.exited).signal).toBe("SIGKILL");
    process.kill(job, "SIGCONT");
    for (let i = 0; alive(job); i++) {
      expect(i, "the orphaned job went on after its server died").toBeLessThan(300);
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(held(t.staging)).toBe(pair.digestA);

    const s2 = await startServe(["--config", t.configFile], t.dir);
    try {
      expect(s2.stderr()).toMatch(
        new RegExp(`run ${run} \\(job\\) was running when its process died: marked interrupted`),
      );
      expect((await ask(s2.url, `/api/v1/runs/${run}`, { token: s0.max })).json).toMatchObject({
        state: "interrupted",
      });
      expect((await ask(s2.url, `/api/v1/candidates/${s0.candidate}`, { token: s0.max })).json).toMatchObject(
        {
          candidate: { state: "ready" },
        },
      );
      const verify = compat(["log", "--verify", "--config", t.configFile], { cwd: t.dir });
      expect(verify.status, verify.stderr).toBe(0);
      // the job's lease died with it: the same promotion runs now
      const again = await promote(s2.url);
      expect(again.status, again.text).toBe(202);
      expect(await runEnd(s2.url, s0.max, (again.json as { run: { id: number } }).run.id)).toBe("succeeded");
      expect(held(t.staging)).toBe(pair.digestB);
    } finally {
      s2.child.kill("SIGTERM");
      await s2.exited;
    }
  });
});

describe("compat serve: SIGTERM", () => {
  const stores = useStores("sqlite");
  it("lets a running job finish, records it, and exits 0", async () => {
    const s0 = await site(join(work, "term"), await stores.location());
    const { t } = s0;
    const s = await startServe(["--config", t.configFile, "--shutdown-grace", "60"], t.dir);
    const r = await ask(s.url, `/api/v1/candidates/${s0.candidate}/promote`, {
      method: "POST",
      token: s0.max,
      body: { target: "staging" },
    });
    expect(r.status, r.text).toBe(202);
    const run = (r.json as { run: { id: number } }).run.id;
    s.child.kill("SIGTERM");
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(s.stderr()).toMatch(/1 running job\(s\) get 60 s to finish/);
    expect(held(t.staging)).toBe(pair.digestB);
    const store = await openStore(t.site.store, { actor: "tester" });
    try {
      const { getRun } = await import("../../src/store/runs.js");
      expect((await getRun(store, run))?.state).toBe("succeeded");
    } finally {
      await store.close();
    }
  });
});

describe("compat serve: two servers on one PostgreSQL database", () => {
  const stores = useStores("postgres");
  let servers: Awaited<ReturnType<typeof startServe>>[] = [];
  afterAll(async () => {
    for (const s of servers) s.child.kill("SIGTERM");
    await Promise.all(servers.map((s) => s.exited));
  });

  it("serve the same state, and a job asked of both at once starts once", async () => {
    const s0 = await site(join(work, "two"), await stores.location());
    const { t } = s0;
    servers = [
      await startServe(["--config", t.configFile], t.dir),
      await startServe(["--config", t.configFile], t.dir),
    ];
    const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
    // a user made through one server logs in on the other
    const made = await ask(a.url, "/api/v1/users", {
      method: "POST",
      token: s0.root,
      body: { name: "vera", roles: ["viewer"] },
    });
    expect(made.status, made.text).toBe(201);
    const vera = (made.json as { token: string }).token;
    const da = await ask(a.url, "/api/v1/dashboard", { token: vera });
    const db = await ask(b.url, "/api/v1/dashboard", { token: vera });
    expect(db.status).toBe(200);
    // the same rows; a publication's age is counted at each request (the two may straddle a second)
    const rows = (r: typeof da) =>
      JSON.parse(
        JSON.stringify((r.json as { rows: unknown }).rows, (k, v) => (k === "ageSeconds" ? undefined : v)),
      );
    expect(rows(db)).toEqual(rows(da));
    // and rows with something in them: the published layer on staging
    expect(rows(da)[0].targets.staging).toMatchObject({ action: "publish", kind: "full" });

    const both = await Promise.all(
      [a, b].map((s) =>
        ask(s.url, `/api/v1/candidates/${s0.candidate}/promote`, {
          method: "POST",
          token: s0.max,
          body: { target: "staging" },
        }),
      ),
    );
    expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
    const busy = both.find((r) => r.status === 409)!;
    expect((busy.json as { message: string }).message).toMatch(
      /job:target:staging is running: compat promote/,
    );
    const started = both.find((r) => r.status === 202)!;
    const run = (started.json as { run: { id: number } }).run.id;
    expect(await runEnd(a.url, vera, run)).toBe("succeeded");
    // the other server shows the same result
    const pubs = (await ask(b.url, "/api/v1/layers/dev", { token: vera })).json as {
      publications: { target: string; sha256: string; candidateId: number | null }[];
    };
    const toStaging = pubs.publications.filter((p) => p.target === "staging");
    // one publication of the candidate (its delta, onto A), after A's
    expect(
      toStaging.map((p) => p.sha256),
      JSON.stringify(pubs.publications),
    ).toEqual([sha(pair.deltaAB), sha(pair.artifactA)]);
    expect(held(t.staging)).toBe(pair.digestB);
  });
});
