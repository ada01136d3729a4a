/**
 * Approval bound to the artifact, and publishing under a target's policy, on SQLite and on a real
 * PostgreSQL (the same cases on both): real ed25519 keys, real artifacts, the real local
 * publisher, the store's own records; the candidates' gate results are recorded by the test (the
 * gates themselves run for real in update-dev.test.ts). Every refusal leaves the targets as they
 * were and publishes nothing.
 */

import { createPrivateKey, sign } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { approvalSigningPayload, listApprovals, recordApproval } from "../../src/store/approvals.js";
import { listAudit, verifyAuditLog } from "../../src/store/audit.js";
import { requireCandidate } from "../../src/store/candidates.js";
import { openStore } from "../../src/store/open.js";
import { listPublications } from "../../src/store/publications.js";
import type { Store } from "../../src/store/store.js";
import { recordVerdict } from "../../src/update/approve.js";
import { promoteCandidate, publishToSiteTarget } from "../../src/update/promote.js";
import { regateCandidate } from "../../src/update/regate.js";
import { siteStatus } from "../../src/update/status.js";
import { compat } from "../helpers/cli.js";
import { makeArtifactPair, TOP_DIR, treeDigest } from "../helpers/layer-tree.js";
import { BACKENDS, tamper, useStores } from "../helpers/stores.js";
import { makeTestSite, seedCandidate, type TestSite } from "../helpers/update-site.js";

let work: string;
let pair: Awaited<ReturnType<typeof makeArtifactPair>>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "compat-approvals-"));
  pair = await makeArtifactPair(join(work, "pair"), { files: 300 });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (artifact: string) =>
  JSON.parse(readFileSync(`${artifact}.manifest.json`, "utf8")).sha256 as string;

/** The layer's tree digest in a local target, or null when the target does not hold it. */
function held(root: string): string | null {
  try {
    return treeDigest(join(root, "versions", TOP_DIR));
  } catch {
    return null;
  }
}

async function refusal(p: Promise<unknown>): Promise<ValidationError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ValidationError);
  expect((e as ValidationError).exitCode).toBe(3);
  return e as ValidationError;
}

/** `who` approves candidate `id` with their key. */
const approveAs = (t: TestSite, store: Store, id: number, who: keyof TestSite["keys"]) =>
  recordVerdict(t.site, store, { candidateId: id, verdict: "approve", keyPath: t.keys[who].privateKey });

describe.each(BACKENDS)("approval and promotion (%s)", (backend) => {
  const stores = useStores(backend);
  let n = 0;

  /** A fresh site over a fresh store, with artifact A published to staging (which needs no approval). */
  async function fresh(): Promise<{ t: TestSite; store: Store }> {
    const { store, location } = await stores.fresh();
    const t = await makeTestSite(join(work, `${backend}-${++n}`), location);
    await publishToSiteTarget(t.site, store, pair.artifactA, "staging");
    return { t, store };
  }

  const candidateB = (
    t: TestSite,
    store: Store,
    extra: Parameters<typeof seedCandidate>[2] extends infer A ? Partial<A> : never = {},
  ) =>
    seedCandidate(t, store, {
      full: pair.artifactB,
      delta: pair.deltaAB,
      baseSha256: sha(pair.artifactA),
      ...extra,
    });

  it("records a publish to a target that needs no approval, with its artifact, in the store", async () => {
    const { t, store } = await fresh();
    expect(held(t.staging)).toBe(pair.digestA);
    const [p] = await listPublications(store, { target: "staging" });
    expect(p).toMatchObject({
      target: "staging",
      layer: TOP_DIR,
      action: "publish",
      kind: "full",
      sha256: sha(pair.artifactA),
    });
    const s = await siteStatus(t.site, store);
    expect(s.rows[0]?.targets.staging).toMatchObject({ sha256: sha(pair.artifactA), candidate: null });
    expect(s.rows[0]?.targets.production).toBeNull();
  });

  it("refuses to approve a candidate whose gate failed, and records nothing", async () => {
    const { t, store } = await fresh();
    const c = await candidateB(t, store, { gates: { checks: "failed" } });
    expect(c.state).toBe("failed");
    const e = await refusal(
      recordVerdict(t.site, store, {
        candidateId: c.id,
        verdict: "approve",
        keyPath: t.keys.alice.privateKey,
      }),
    );
    expect(e.message).toMatch(/candidate \d+ is failed: it cannot be approved/);
    expect(await listApprovals(store, c.id, { includeVoided: true })).toEqual([]);
  });

  it("refuses a key the site config does not know", async () => {
    const { t, store } = await fresh();
    const c = await candidateB(t, store);
    const e = await refusal(
      recordVerdict(t.site, store, {
        candidateId: c.id,
        verdict: "approve",
        keyPath: t.keys.mallory.privateKey,
      }),
    );
    expect(e.message).toMatch(/is not the key of any approver in .*compat\.yaml/);
    expect(await listApprovals(store, c.id)).toEqual([]);
  });

  it("publishes to production only with two approvals by different approvers, delta onto the base or the full artifact", async () => {
    const { t, store } = await fresh();
    const c = await candidateB(t, store);
    const a1 = await approveAs(t, store, c.id, "alice");
    expect(a1.candidate.state).toBe("approved");
    expect(a1.approval).toMatchObject({ approver: "alice", artifactSha256: sha(pair.artifactB) });
    // the same approver twice counts once
    expect(
      (
        await recordVerdict(t.site, store, {
          candidateId: c.id,
          verdict: "approve",
          keyPath: t.keys.alice.privateKey,
        })
      ).already,
    ).toBe(true);
    const e = await refusal(promoteCandidate(t.site, store, c.id, "production"));
    expect(e.details.join("\n")).toMatch(
      /production needs 2 approvals by different approvers; 1 valid \(alice\): 1 missing/,
    );
    expect(held(t.production)).toBeNull();

    await approveAs(t, store, c.id, "bob");
    // staging holds A: the delta A→B goes there
    const toStaging = await promoteCandidate(t.site, store, c.id, "staging");
    expect(toStaging.artifact).toMatchObject({ kind: "delta", sha256: sha(pair.deltaAB) });
    expect(held(t.staging)).toBe(pair.digestB);
    // production holds nothing: the full artifact
    const toProduction = await promoteCandidate(t.site, store, c.id, "production");
    expect(toProduction.artifact).toMatchObject({ kind: "full", sha256: sha(pair.artifactB) });
    expect(held(t.production)).toBe(pair.digestB);
    expect((await requireCandidate(store, c.id)).state).toBe("published");
    const pubs = await listPublications(store, { target: "production" });
    expect(pubs[0]).toMatchObject({ candidateId: c.id, sha256: sha(pair.artifactB), kind: "full" });
    const s = await siteStatus(t.site, store);
    // a delta publication names the full artifact whose tree it gives
    expect(s.rows[0]?.targets.staging).toMatchObject({
      sha256: sha(pair.artifactB),
      publishedSha256: sha(pair.deltaAB),
      kind: "delta",
      candidate: c.id,
    });
    expect(s.rows[0]?.targets.production).toMatchObject({
      sha256: sha(pair.artifactB),
      kind: "full",
      candidate: c.id,
    });
    expect((await verifyAuditLog(store)).ok).toBe(true);
  });

  it("does not count the requester's own approval where the policy forbids it", async () => {
    const { t, store } = await fresh();
    const c = await candidateB(t, store, { requestedBy: "alice (as root)" });
    await approveAs(t, store, c.id, "alice");
    await approveAs(t, store, c.id, "bob");
    const e = await refusal(promoteCandidate(t.site, store, c.id, "production"));
    expect(e.details.join("\n")).toMatch(
      /alice started this update, and production's policy does not let the requester approve/,
    );
    expect(held(t.production)).toBeNull();
  });

  it("refuses an approval record edited in the database (the signature no longer verifies)", async () => {
    const { t, store, location } = await (async () => {
      const { store, location } = await stores.fresh();
      const t = await makeTestSite(join(work, `${backend}-${++n}`), location);
      await publishToSiteTarget(t.site, store, pair.artifactA, "staging");
      return { t, store, location };
    })();
    const c = await candidateB(t, store);
    const a = await approveAs(t, store, c.id, "alice");
    const b = await approveAs(t, store, c.id, "bob");
    // an intruder changes bob's approval to be alice's second (by name), and one byte of alice's reason
    await tamper(location, "update approvals set approver = ? where id = ?", ["alice", b.approval.id]);
    await tamper(location, "update approvals set reason = ? where id = ?", ["ok", a.approval.id]);
    const e = await refusal(promoteCandidate(t.site, store, c.id, "production"));
    expect(e.details.join("\n")).toMatch(
      /approval \d+ by alice does not count: its signature does not verify over its fields \(the record was forged or edited\)/,
    );
    expect(held(t.production)).toBeNull();
  });

  it("refuses approvals after a gate's report was edited in the database (the gates' digest changed)", async () => {
    const { store, location } = await stores.fresh();
    const t = await makeTestSite(join(work, `${backend}-${++n}`), location);
    await publishToSiteTarget(t.site, store, pair.artifactA, "staging");
    const c = await candidateB(t, store);
    for (const key of [t.keys.alice.privateKey, t.keys.bob.privateKey])
      await recordVerdict(t.site, store, { candidateId: c.id, verdict: "approve", keyPath: key });
    // the column beside the report is left as it was: only the report itself says it changed
    await tamper(location, "update gates set report = ? where candidate_id = ? and gate = ?", [
      JSON.stringify({ summary: "all fine, trust me" }),
      c.id,
      "checks",
    ]);
    const e = await refusal(promoteCandidate(t.site, store, c.id, "production"));
    expect(e.details.join("\n")).toMatch(/the gates changed since it was given/);
    expect(held(t.production)).toBeNull();
  });

  it("refuses a forged approval: signed by a key the policy does not know, or for another sha256", async () => {
    const { t, store } = await fresh();
    const c = await candidateB(t, store);
    await approveAs(t, store, c.id, "alice");
    const fields = (approver: string, artifactSha256: string) => ({
      candidateId: c.id,
      verdict: "approve" as const,
      artifactSha256,
      manifestSha256: a0.manifestSha256,
      gatesDigest: a0.gatesDigest,
      approver,
      reason: null,
      at: new Date().toISOString(),
    });
    const [a0] = await listApprovals(store, c.id).then((x) => x as [(typeof x)[number]]);
    const signWith = (key: string, f: ReturnType<typeof fields>) =>
      sign(null, approvalSigningPayload(f), createPrivateKey(readFileSync(key))).toString("base64");
    // "bob" signed with mallory's key
    const forged = fields("bob", a0.artifactSha256);
    await recordApproval(store, {
      ...forged,
      reason: undefined,
      keyId: "0".repeat(64),
      signature: signWith(t.keys.mallory.privateKey, forged),
    });
    let e = await refusal(promoteCandidate(t.site, store, c.id, "production"));
    expect(e.details.join("\n")).toMatch(
      /by bob does not count: it was signed with key 0000000000000000…, not bob's key/,
    );
    // bob's real key, over another artifact's sha256
    const other = fields("bob", sha(pair.artifactA));
    const { keyFingerprint } = await import("../../src/artifacts/sign.js");
    const { createPublicKey } = await import("node:crypto");
    const bobFp = keyFingerprint(createPublicKey(readFileSync(t.keys.bob.publicKey)));
    await recordApproval(store, {
      ...other,
      reason: undefined,
      keyId: bobFp,
      signature: signWith(t.keys.bob.privateKey, other),
    });
    e = await refusal(promoteCandidate(t.site, store, c.id, "production"));
    expect(e.details.join("\n")).toMatch(
      new RegExp(
        `by bob does not count: it approves the artifact ${sha(pair.artifactA)}, not the candidate's ${sha(pair.artifactB)}`,
      ),
    );
    expect(held(t.production)).toBeNull();
  });

  it("refuses an artifact changed on disk after approval, publishing nothing", async () => {
    const { t, store } = await fresh();
    // the candidate's own copies, so the pair stays intact for the other cases
    const dir = join(t.dir, "own");
    mkdirSync(dir);
    const own = (p: string) => {
      const to = join(dir, p.split("/").at(-1)!);
      copyFileSync(p, to);
      copyFileSync(`${p}.manifest.json`, `${to}.manifest.json`);
      return to;
    };
    const full = own(pair.artifactB);
    const c = await seedCandidate(t, store, { full, baseSha256: sha(pair.artifactA) });
    await approveAs(t, store, c.id, "alice");
    await approveAs(t, store, c.id, "bob");
    const bytes = readFileSync(full);
    bytes.writeUInt8(bytes.readUInt8(1000) ^ 1, 1000);
    writeFileSync(full, bytes);
    const e = await refusal(promoteCandidate(t.site, store, c.id, "production"));
    expect(e.message).toMatch(
      /changed on disk: its sha256 is now [0-9a-f]{64}, not [0-9a-f]{64} .*nothing was done/,
    );
    expect(held(t.production)).toBeNull();
  });

  it("voids the approvals when a gate runs again, and refuses publication until approved anew", async () => {
    const { t, store } = await fresh();
    const c = await candidateB(t, store);
    await approveAs(t, store, c.id, "alice");
    await approveAs(t, store, c.id, "bob");
    // the real delta gate, run again: the candidate's tree is not needed for it
    const r = await regateCandidate(t.site, store, c.id, { only: ["delta"] });
    expect(r.gates.find((g) => g.gate === "delta")).toMatchObject({ state: "passed", attempt: 2 });
    expect(r.candidate.state).toBe("ready");
    expect(await listApprovals(store, c.id)).toEqual([]);
    const actions = (await listAudit(store, { subject: `candidate:${c.id}` })).map((x) => x.action);
    expect(actions).toContain("candidate.approvals-voided");
    const e = await refusal(promoteCandidate(t.site, store, c.id, "production"));
    expect(e.details.join("\n")).toMatch(/0 valid: 2 missing/);
    expect(held(t.production)).toBeNull();
  });

  it("refuses a rejected candidate everywhere", async () => {
    const { t, store } = await fresh();
    const c = await candidateB(t, store);
    await recordVerdict(t.site, store, {
      candidateId: c.id,
      verdict: "reject",
      keyPath: t.keys.bob.privateKey,
      reason: "breaks lmod",
    });
    expect((await requireCandidate(store, c.id)).state).toBe("rejected");
    await refusal(
      recordVerdict(t.site, store, {
        candidateId: c.id,
        verdict: "approve",
        keyPath: t.keys.alice.privateKey,
      }),
    );
    await refusal(promoteCandidate(t.site, store, c.id, "staging"));
    expect(held(t.staging)).toBe(pair.digestA);
  });

  it("compat publish to a target that needs approvals refuses an artifact without them (exit 3, saying what is missing)", async () => {
    const { t, store } = await fresh();
    let r = compat(["publish", pair.artifactB, "--to", "production", "--config", t.configFile]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      /production needs 2 approvals, and .* is no candidate's artifact, so nobody approved it; nothing was published/,
    );
    const c = await candidateB(t, store);
    await approveAs(t, store, c.id, "alice");
    // named by its place, the target's policy applies all the same
    r = compat(["publish", pair.artifactB, "--to", `local:${t.production}`, "--config", t.configFile]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/1 valid \(alice\): 1 missing/);
    expect(held(t.production)).toBeNull();
    r = compat(["approve", String(c.id), "--key", t.keys.bob.privateKey, "--config", t.configFile]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/approved candidate \d+ as bob/);
    expect(r.stdout).toMatch(/production +may be published: 2\/2 approvals \(alice, bob\)/);
    r = compat(["publish", pair.artifactB, "--to", "production", "--config", t.configFile, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      sha256: sha(pair.artifactB),
      site: { target: "production", candidate: c.id, approvals: ["alice", "bob"] },
    });
    expect(held(t.production)).toBe(pair.digestB);
    r = compat(["status", "--config", t.configFile]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `dev +x86_64 +${sha(pair.artifactA).slice(0, 12)} +${sha(pair.artifactB).slice(0, 12)} cand ${c.id}`,
      ),
    );
    await store.close().catch(() => {});
  });

  it("a store that cannot be opened is an error naming it, exit 4", async () => {
    const dir = join(work, `${backend}-broken`);
    mkdirSync(dir, { recursive: true });
    const location =
      backend === "sqlite"
        ? { backend: "sqlite" as const, path: dir }
        : { backend: "postgres" as const, url: "postgres://compat@127.0.0.1:1/compat" };
    const t = await makeTestSite(join(dir, "site"), location).catch(() => undefined);
    expect(t).toBeDefined();
    for (const args of [
      ["status"],
      ["approve", "1", "--key", t!.keys.alice.privateKey],
      ["promote", "1", "--to", "staging"],
      ["update", "dev"],
    ]) {
      const r = compat([...args, "--config", t!.configFile]);
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toMatch(
        backend === "sqlite"
          ? /cannot open the store sqlite:.*: it is a directory/
          : /cannot open the store postgres:\/\/compat@127\.0\.0\.1:1\/compat/,
      );
    }
    await openStore(location).then(
      (s) => s.close(),
      () => {},
    );
  });
});
