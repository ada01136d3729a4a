/**
 * The update loop through the API, on SQLite and PostgreSQL: approvals, rejections and promotions
 * run as `compat approve|reject|promote` jobs (the same functions as the command line), so an
 * approval made over HTTP is bound to the candidate's artifact sha256, manifest and gates' digest
 * exactly as the CLI's, signed with the approver's key; the target's policy (two approvers, not
 * the requester) is the core's; a key that is not the site's approver's approves nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listApprovals } from "../../src/store/approvals.js";
import { requireCandidate } from "../../src/store/candidates.js";
import { listPublications } from "../../src/store/publications.js";
import { greenGates, targetVerdicts } from "../../src/update/approve.js";
import { publishToSiteTarget } from "../../src/update/promote.js";
import { compat } from "../helpers/cli.js";
import { ask } from "../helpers/http.js";
import { makeArtifactPair, TOP_DIR, treeDigest } from "../helpers/layer-tree.js";
import { type ServerFixture, startServerFixture } from "../helpers/serve.js";
import { BACKENDS, useStores } from "../helpers/stores.js";
import { makeTestSite, seedCandidate, type TestSite } from "../helpers/update-site.js";

let work: string;
let pair: Awaited<ReturnType<typeof makeArtifactPair>>;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-serve-loop-"));
  pair = await makeArtifactPair(join(work, "pair"), { files: 200 });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (artifact: string) =>
  JSON.parse(readFileSync(`${artifact}.manifest.json`, "utf8")).sha256 as string;

function held(root: string): string | null {
  try {
    return treeDigest(join(root, "versions", TOP_DIR));
  } catch {
    return null;
  }
}

/** Follow a job to its end through the API: its run and its log. */
async function finished(f: ServerFixture, run: number): Promise<{ state: string; log: string }> {
  for (;;) {
    const r = await ask(f.url, `/api/v1/runs/${run}`, { token: f.tokens.viewer });
    const state = (r.json as { state: string }).state;
    if (state !== "running") {
      const log = await ask(f.url, `/api/v1/runs/${run}/log`, { token: f.tokens.viewer });
      return { state, log: log.text };
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe.each(BACKENDS)("the update loop through compat serve (%s)", (backend) => {
  const stores = useStores(backend);
  let t: TestSite;
  let f: ServerFixture;
  let n = 0;

  beforeAll(async () => {
    const location = await stores.location();
    t = await makeTestSite(join(work, `${backend}-${++n}`), location);
    f = await startServerFixture({
      location,
      configFile: t.configFile,
      approverKeys: {
        alice: t.keys.alice.privateKey,
        bob: t.keys.bob.privateKey,
        // an account that claims to be an approver with a key the site does not know
        mallory: t.keys.mallory.privateKey,
      },
      moreUsers: { bob: ["approver"], mallory: ["approver"] },
    });
    await publishToSiteTarget(t.site, f.store, pair.artifactA, "staging");
  });
  afterAll(async () => f?.stop());

  const candidate = (requestedBy = "max") =>
    seedCandidate(t, f.store, {
      full: pair.artifactB,
      delta: pair.deltaAB,
      baseSha256: sha(pair.artifactA),
      requestedBy,
    });

  it("an approval over HTTP is the CLI's: signed, bound to the artifact's sha256, manifest and gates", async () => {
    const c = await candidate();
    const api = await ask(f.url, `/api/v1/candidates/${c.id}/approve`, {
      method: "POST",
      token: f.userTokens.alice!,
      body: { reason: "checked the diff" },
    });
    expect(api.status, api.text).toBe(200);
    const result = (api.json as { result: { approval: Record<string, unknown> } }).result;
    expect(result.approval).toMatchObject({
      approver: "alice",
      verdict: "approve",
      artifactSha256: sha(pair.artifactB),
      reason: "checked the diff",
    });
    // bob approves the same candidate with the command line: the same binding
    const cli = compat(
      ["approve", String(c.id), "--key", t.keys.bob.privateKey, "--config", t.configFile, "--json"],
      { cwd: t.dir },
    );
    expect(cli.status, cli.stderr).toBe(0);
    const approvals = await listApprovals(f.store, c.id);
    expect(approvals.map((a) => a.approver).sort()).toEqual(["alice", "bob"]);
    const [a, b] = approvals;
    for (const field of ["artifactSha256", "manifestSha256", "gatesDigest", "candidateId"] as const)
      expect(a![field], field).toBe(b![field]);
    const { digest } = await greenGates(t.site, f.store, await requireCandidate(f.store, c.id));
    expect(a!.gatesDigest).toBe(digest);
    // both count for production under its policy (two approvers, not the requester): the core's verdict
    const prod = (await targetVerdicts(t.site, f.store, await requireCandidate(f.store, c.id), digest)).find(
      (v) => v.target === "production",
    )!;
    expect(prod.ok).toBe(true);
    expect(prod.counted.map((x) => x.approver).sort()).toEqual(["alice", "bob"]);
    // the audit log names the acting user
    const audit = await ask(f.url, `/api/v1/audit?subject=candidate:${c.id}`, { token: f.tokens.viewer });
    const rows = (audit.json as { entries: { actor: string; action: string }[] }).entries;
    expect(rows.some((r) => r.actor.startsWith("alice"))).toBe(true);
  });

  it("promotes over HTTP only what the target's policy allows, and publishes exactly the approved artifact", async () => {
    const c = await candidate();
    const promote = () =>
      ask(f.url, `/api/v1/candidates/${c.id}/promote`, {
        method: "POST",
        token: f.tokens.maintainer,
        body: { target: "production" },
      });
    // no approval yet: the job runs and the core refuses; production is untouched
    const early = await promote();
    expect(early.status, early.text).toBe(202);
    const refused = await finished(f, (early.json as { run: { id: number } }).run.id);
    expect(refused.state).toBe("failed");
    expect(refused.log).toMatch(/needs 2 approvals/);
    expect(held(t.production)).toBeNull();
    // one approval by alice is not enough either
    for (const who of ["alice", "bob"]) {
      const v = await ask(f.url, `/api/v1/candidates/${c.id}/approve`, {
        method: "POST",
        token: f.userTokens[who]!,
        body: {},
      });
      expect(v.status, v.text).toBe(200);
    }
    const ok = await promote();
    expect(ok.status, ok.text).toBe(202);
    const done = await finished(f, (ok.json as { run: { id: number } }).run.id);
    expect(done.state, done.log).toBe("succeeded");
    expect(held(t.production)).toBe(pair.digestB);
    const pubs = await listPublications(f.store, { target: "production" });
    expect(pubs[0]).toMatchObject({ sha256: sha(pair.artifactB), candidateId: c.id });
    expect(pubs[0]!.user).toMatch(/^max \(as /);
    expect((await requireCandidate(f.store, c.id)).state).toBe("published");
  });

  it("the requester's own approval does not count where the policy forbids it", async () => {
    const c = await candidate("alice");
    await ask(f.url, `/api/v1/candidates/${c.id}/approve`, {
      method: "POST",
      token: f.userTokens.alice!,
      body: {},
    });
    await ask(f.url, `/api/v1/candidates/${c.id}/approve`, {
      method: "POST",
      token: f.userTokens.bob!,
      body: {},
    });
    const { digest } = await greenGates(t.site, f.store, await requireCandidate(f.store, c.id));
    const prod = (await targetVerdicts(t.site, f.store, await requireCandidate(f.store, c.id), digest)).find(
      (v) => v.target === "production",
    )!;
    expect(prod.ok).toBe(false);
    expect(prod.refused.map((r) => r.reason).join()).toMatch(/started this update/);
  });

  it("an account whose key is not the site's approver's approves nothing", async () => {
    const c = await candidate();
    const a = await ask(f.url, `/api/v1/candidates/${c.id}/approve`, {
      method: "POST",
      token: f.userTokens.mallory!,
      body: {},
    });
    expect(a.status, a.text).toBe(409);
    expect((a.json as { message: string }).message).toMatch(/mallory is not an approver/);
    expect(await listApprovals(f.store, c.id)).toHaveLength(0);
  });

  it("a rejection needs a reason and stops the candidate everywhere", async () => {
    const c = await candidate();
    const bare = await ask(f.url, `/api/v1/candidates/${c.id}/reject`, {
      method: "POST",
      token: f.userTokens.bob!,
      body: {},
    });
    expect(bare.status).toBe(400);
    const r = await ask(f.url, `/api/v1/candidates/${c.id}/reject`, {
      method: "POST",
      token: f.userTokens.bob!,
      body: { reason: "breaks the stack's tests <script>alert(1)</script>" },
    });
    expect(r.status, r.text).toBe(200);
    expect((await requireCandidate(f.store, c.id)).state).toBe("rejected");
    // the reason a person wrote is shown inert
    const page = await ask(f.url, `/candidates/${c.id}`, { token: f.tokens.viewer });
    expect(page.text).toContain("breaks the stack's tests &lt;script>alert(1)&lt;/script>");
    expect(page.text).not.toContain("<script>");
    const late = await ask(f.url, `/api/v1/candidates/${c.id}/approve`, {
      method: "POST",
      token: f.userTokens.alice!,
      body: {},
    });
    expect(late.status).toBe(409);
    expect((late.json as { message: string }).message).toMatch(/rejected/);
  });
});
