/** The store's table modules, the same cases on SQLite and on a real PostgreSQL. */
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { CompatError, InputError } from "../../src/errors.js";
import {
  appendAudit,
  approvalSigningPayload,
  countOpenFindings,
  createCandidate,
  currentPublication,
  finishGate,
  finishRun,
  gatesDigest,
  getArtifact,
  IllegalTransitionError,
  interruptDeadRuns,
  LeaseHeldError,
  listApprovals,
  listAudit,
  listCandidates,
  listFindings,
  listGates,
  listLayers,
  observeFindings,
  recordApproval,
  recordArtifact,
  recordPublication,
  registerLayer,
  releaseLease,
  renewLease,
  requireCandidate,
  type Store,
  setCandidateBuild,
  startGate,
  startRun,
  takeLease,
  transitionCandidate,
  tryTakeLease,
  verifyAuditLog,
  withLease,
} from "../../src/store/index.js";
import { BACKENDS, tamper, useStores } from "../helpers/stores.js";

const sha = (c: string) => c.repeat(64);
const DEV = {
  name: "dev",
  specPath: "/site/examples/dev.yaml",
  specSha256: sha("1"),
  flavor: "debian",
  stack: "dev",
  version: "2025.06",
  arches: ["x86_64"],
};

async function candidateReadyForGates(store: Store) {
  await registerLayer(store, DEV, "alice");
  await recordArtifact(store, {
    sha256: sha("a"),
    kind: "full",
    path: "/state/artifacts/dev/x86_64/a.tar.zst",
    size: 123,
    manifest: { files: 10 },
    manifestSha256: sha("b"),
    layer: "dev",
    arch: "x86_64",
  });
  const c = await createCandidate(store, {
    layer: "dev",
    arch: "x86_64",
    target: "staging",
    requestedBy: "alice",
  });
  await setCandidateBuild(store, c.id, {
    fullSha256: sha("a"),
    packageDiff: { upgraded: [] },
    actor: "alice",
  });
  return transitionCandidate(store, c.id, "gating", { actor: "alice" });
}

describe.each(BACKENDS)("store on %s", (backend) => {
  const stores = useStores(backend);

  it("is migrated on open, once, and the migration is the audit log's first row", async () => {
    const { store, location } = await stores.fresh();
    const [first, ...rest] = await listAudit(store);
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ seq: 1, actor: "tester", action: "store.migrated", detail: { backend } });
    await store.close();
    const { openStore } = await import("../../src/store/open.js");
    const again = await openStore(location);
    expect(await listAudit(again)).toHaveLength(1);
    expect(await verifyAuditLog(again)).toMatchObject({ ok: true, rows: 1 });
    await again.close();
  });

  it("registers layers, auditing only what changed", async () => {
    const { store } = await stores.fresh();
    await registerLayer(store, DEV, "alice");
    await registerLayer(store, DEV, "alice");
    await registerLayer(store, { ...DEV, specSha256: sha("2") }, "bob");
    expect((await listAudit(store)).map((e) => e.action)).toEqual([
      "store.migrated",
      "layer.registered",
      "layer.changed",
    ]);
    expect(await listLayers(store)).toEqual([
      expect.objectContaining({ name: "dev", specSha256: sha("2"), arches: ["x86_64"] }),
    ]);
  });

  it("moves a candidate through its states, auditing each, and refuses an illegal move (exit 3) changing nothing", async () => {
    const { store } = await stores.fresh();
    const c = await candidateReadyForGates(store);
    expect(c.state).toBe("gating");
    const auditBefore = await listAudit(store);
    const err = await transitionCandidate(store, c.id, "published", { actor: "mallory" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IllegalTransitionError);
    expect((err as CompatError).exitCode).toBe(3);
    expect((err as Error).message).toMatch(/candidate \d+ is gating: it cannot become published/);
    expect((await requireCandidate(store, c.id)).state).toBe("gating");
    expect(await listAudit(store)).toEqual(auditBefore);

    for (const to of ["ready", "approved", "published"] as const)
      await transitionCandidate(store, c.id, to, { actor: "alice" });
    expect((await requireCandidate(store, c.id)).state).toBe("published");
    const actions = (await listAudit(store, { subject: `candidate:${c.id}` })).map((e) => e.action);
    expect(actions).toEqual([
      "candidate.created",
      "candidate.built",
      "candidate.gating",
      "candidate.ready",
      "candidate.approved",
      "candidate.published",
    ]);
    expect(await listCandidates(store, { state: ["published"] })).toHaveLength(1);
    expect(await listCandidates(store, { state: ["ready", "approved"] })).toHaveLength(0);
  });

  it("refuses a candidate of a layer it does not know and an unknown candidate", async () => {
    const { store } = await stores.fresh();
    await expect(
      createCandidate(store, { layer: "nope", arch: "x86_64", target: "staging", requestedBy: "a" }),
    ).rejects.toThrow();
    expect(await listAudit(store)).toHaveLength(1); // the failed insert left no audit row
    const err = await requireCandidate(store, 999).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
  });

  it("binds approvals to the gates: a re-run gate or a rebuild voids them", async () => {
    const { store } = await stores.fresh();
    const c = await candidateReadyForGates(store);
    for (const gate of ["checks", "delta"]) {
      await startGate(store, c.id, gate, { actor: "alice" });
      await finishGate(store, c.id, gate, {
        state: "passed",
        report: { checked: 14, failed: 0 },
        actor: "alice",
      });
    }
    const gates = await listGates(store, c.id);
    expect(gates.map((g) => [g.gate, g.state, g.attempt])).toEqual([
      ["checks", "passed", 1],
      ["delta", "passed", 1],
    ]);
    const digest = gatesDigest(gates);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    await transitionCandidate(store, c.id, "ready", { actor: "alice" });
    const approval = await recordApproval(store, {
      candidateId: c.id,
      verdict: "approve",
      artifactSha256: sha("a"),
      manifestSha256: sha("b"),
      gatesDigest: digest,
      approver: "bob",
      keyId: sha("f"),
      signature: "c2ln",
      at: "2026-06-01T12:00:00.000Z",
    });
    // the signed payload is what the record holds: a record read back gives the same bytes
    const [stored] = await listApprovals(store, c.id);
    expect(approvalSigningPayload(stored!)).toEqual(approvalSigningPayload({ ...approval, reason: null }));

    await startGate(store, c.id, "checks", { actor: "alice" });
    expect(await listApprovals(store, c.id)).toEqual([]);
    const voided = await listApprovals(store, c.id, { includeVoided: true });
    expect(voided[0]).toMatchObject({ voidedBy: "alice", voidReason: "gate checks was re-run" });
    await finishGate(store, c.id, "checks", {
      state: "passed",
      report: { checked: 14, failed: 0 },
      actor: "alice",
    });
    const rerun = await listGates(store, c.id);
    expect(rerun.find((g) => g.gate === "checks")?.attempt).toBe(2);
    expect(gatesDigest(rerun)).not.toBe(digest);
    await expect(
      finishGate(store, c.id, "checks", { state: "failed", report: {}, actor: "x" }),
    ).rejects.toThrow(/is not running/);
    expect((await listAudit(store, { subject: `candidate:${c.id}` })).map((e) => e.action)).toContain(
      "candidate.approvals-voided",
    );
  });

  it("records artifacts once by sha256, refuses the same sha256 with another manifest, and keeps sizes over 4 GiB", async () => {
    const { store } = await stores.fresh();
    const big = {
      sha256: sha("c"),
      kind: "full" as const,
      path: "/a/x.tar.zst",
      size: 5 * 2 ** 30 + 7,
      manifest: { m: 1 },
      manifestSha256: sha("d"),
    };
    await recordArtifact(store, big);
    const moved = await recordArtifact(store, { ...big, path: "/b/x.tar.zst" });
    expect(moved).toMatchObject({ path: "/b/x.tar.zst", size: 5 * 2 ** 30 + 7, manifest: { m: 1 } });
    await expect(recordArtifact(store, { ...big, manifestSha256: sha("e") })).rejects.toThrow(CompatError);
    expect((await getArtifact(store, sha("c")))?.size).toBe(5 * 2 ** 30 + 7);
  });

  it("records a publication once per journal id and knows what a target holds", async () => {
    const { store } = await stores.fresh();
    const p = {
      target: "staging",
      layer: "2025.06/compat/linux/x86_64",
      action: "publish" as const,
      kind: "full" as const,
      sha256: sha("a"),
      journalId: "j-1",
    };
    const first = await recordPublication(store, p);
    const again = await recordPublication(store, p);
    expect(again.id).toBe(first.id);
    await recordPublication(store, { ...p, sha256: sha("b"), previousSha256: sha("a"), journalId: "j-2" });
    expect((await currentPublication(store, "staging", p.layer))?.sha256).toBe(sha("b"));
    expect(await currentPublication(store, "production", p.layer)).toBeUndefined();
    expect((await listAudit(store)).filter((e) => e.action === "publication.publish")).toHaveLength(2);
  });

  it("follows findings over time: opened, still open, resolved by a publication, reopened", async () => {
    const { store } = await stores.fresh();
    const pub = await recordPublication(store, {
      target: "production",
      layer: "2025.06/compat/linux/x86_64",
      action: "publish",
    });
    const scope = { target: "production", layer: "dev", arch: "x86_64", source: "debian-security" };
    const openssl = {
      advisoryId: "DSA-5532-1",
      package: "openssl",
      installed: "openssl-3.0.11-1~deb12u1",
      cves: ["CVE-2023-5678"],
      severity: "high",
      fix: "3.0.11-1~deb12u2",
    };
    const curl = {
      advisoryId: "DSA-5587-1",
      package: "curl",
      installed: "curl-7.88.1-10+deb12u4",
      cves: ["CVE-2023-46218"],
      severity: "normal",
    };
    const first = await observeFindings(store, scope, [openssl, curl], { at: "2026-06-01T00:00:00.000Z" });
    expect(first.opened).toHaveLength(2);
    const second = await observeFindings(store, scope, [openssl], {
      at: "2026-06-02T00:00:00.000Z",
      publicationId: pub.id,
    });
    expect(second.stillOpen.map((f) => f.advisoryId)).toEqual(["DSA-5532-1"]);
    expect(second.resolved).toEqual([
      expect.objectContaining({
        advisoryId: "DSA-5587-1",
        resolvedAt: "2026-06-02T00:00:00.000Z",
        resolvedByPublicationId: pub.id,
      }),
    ]);
    expect(await listFindings(store, { layer: "dev", open: true })).toEqual([
      expect.objectContaining({
        advisoryId: "DSA-5532-1",
        firstSeen: "2026-06-01T00:00:00.000Z",
        lastSeen: "2026-06-02T00:00:00.000Z",
        cves: ["CVE-2023-5678"],
      }),
    ]);
    expect(await countOpenFindings(store)).toEqual([{ layer: "dev", severity: "high", count: 1 }]);
    const third = await observeFindings(store, scope, [openssl, curl], { at: "2026-06-03T00:00:00.000Z" });
    expect(third.opened.map((f) => [f.advisoryId, f.firstSeen])).toEqual([
      ["DSA-5587-1", "2026-06-01T00:00:00.000Z"],
    ]);
    expect(await listFindings(store, { severity: ["high", "normal"], open: true })).toHaveLength(2);
    expect(await listFindings(store, { open: false })).toHaveLength(0);
  });

  it("gives a lease to one holder at a time; a dead or expired holder's lease is taken over", async () => {
    const { store, location } = await stores.fresh();
    const lease = await takeLease(store, "update:dev:x86_64", {
      purpose: "compat update dev --arch x86_64",
      owner: "alice",
    });
    const refused = await takeLease(store, "update:dev:x86_64", { purpose: "second" }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(LeaseHeldError);
    expect((refused as CompatError).exitCode).toBe(3);
    expect((refused as Error).message).toMatch(
      new RegExp(
        `update:dev:x86_64 is held by alice on ${hostname()} \\(pid ${process.pid}, since .*\\): compat update dev --arch x86_64`,
      ),
    );
    // waiting: the holder lets go meanwhile
    const waiting = takeLease(store, "update:dev:x86_64", { purpose: "waiter", waitMs: 10_000, pollMs: 50 });
    setTimeout(() => void releaseLease(store, lease), 200);
    const second = await waiting;
    expect(second.purpose).toBe("waiter");
    expect(await renewLease(store, lease)).toBe(false); // the first holder lost it
    expect(await renewLease(store, second)).toBe(true);
    await releaseLease(store, second);

    // a lease another process left: on this host with its process gone, or on another host
    const leftBy = (name: string, host: string, pid: number, expiresAt: string) =>
      tamper(
        location,
        "insert into leases (name, token, owner, host, pid, pid_start, purpose, acquired_at, expires_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [name, "t", "bob", host, pid, "1", "build", "2026-01-01T00:00:00.000Z", expiresAt],
      );
    await leftBy("dead", hostname(), 2 ** 22 + 1, "2999-01-01T00:00:00.000Z");
    expect("lease" in (await tryTakeLease(store, "dead", { purpose: "after a crash" }))).toBe(true);
    await leftBy("remote", "elsewhere", 1, "2026-01-01T00:05:00.000Z"); // expired
    expect("lease" in (await tryTakeLease(store, "remote", { purpose: "later" }))).toBe(true);
    await leftBy("busy", "elsewhere", 1, "2999-01-01T00:00:00.000Z"); // only its expiry can free it
    expect(await tryTakeLease(store, "busy", { purpose: "x" })).toMatchObject({
      heldBy: { owner: "bob", host: "elsewhere" },
    });
    // withLease releases after the work, also when it throws
    await expect(
      withLease(store, "job", { purpose: "p" }, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect("lease" in (await tryTakeLease(store, "job", { purpose: "q" }))).toBe(true);
  });

  it("records runs, and marks interrupted those whose process is gone", async () => {
    const { store, location } = await stores.fresh();
    const run = await startRun(store, {
      kind: "update",
      layer: "dev",
      arch: "x86_64",
      logPath: "/state/runs/1.log",
    });
    expect(run).toMatchObject({ state: "running", host: hostname(), pid: process.pid });
    await tamper(
      location,
      "insert into runs (kind, state, started_at, host, pid, pid_start) values (?, ?, ?, ?, ?, ?)",
      ["build", "running", "2026-01-01T00:00:00.000Z", hostname(), 2 ** 22 + 3, "1"],
    );
    const interrupted = await interruptDeadRuns(store);
    expect(interrupted.map((r) => [r.kind, r.state])).toEqual([["build", "interrupted"]]);
    expect(await finishRun(store, run.id, { state: "succeeded", exitCode: 0 })).toMatchObject({
      state: "succeeded",
      exitCode: 0,
    });
    expect(await finishRun(store, run.id, { state: "failed" })).toBeUndefined();
  });

  it("proves the audit chain, and names the first row edited, removed or forked behind its back", async () => {
    const { store, location } = await stores.fresh();
    for (let i = 0; i < 5; i++)
      await appendAudit(store, {
        actor: "alice",
        action: "test.step",
        subject: "test",
        detail: { i, note: "ok" },
      });
    expect(await verifyAuditLog(store)).toMatchObject({ ok: true, rows: 6, head: { seq: 6 } });

    // one byte of an old row's detail
    await tamper(location, "update audit_log set detail = replace(detail, '\"ok\"', '\"OK\"') where seq = 3");
    expect(await verifyAuditLog(store)).toEqual({
      ok: false,
      rows: 2,
      firstBad: {
        seq: 3,
        reason: expect.stringMatching(/^its content hashes to .* but it records .*: the row was edited$/),
      },
    });
    await tamper(location, "update audit_log set detail = replace(detail, '\"OK\"', '\"ok\"') where seq = 3");
    expect((await verifyAuditLog(store)).ok).toBe(true);

    // a row rewritten with a matching sha256 of its own: the next row's link gives it away
    const rows = await listAudit(store);
    const { auditRowSha256 } = await import("../../src/store/audit.js");
    const forged = {
      seq: 2,
      at: rows[1]!.at,
      actor: "mallory",
      action: "test.step",
      subject: "test",
      detail: '{"i":0,"note":"ok"}',
      prev_sha256: rows[0]!.sha256,
    };
    await tamper(location, "update audit_log set actor = ?, sha256 = ? where seq = 2", [
      "mallory",
      auditRowSha256(forged),
    ]);
    expect(await verifyAuditLog(store)).toMatchObject({
      ok: false,
      firstBad: { seq: 3, reason: expect.stringMatching(/row 2 was replaced/) },
    });

    // a fork (a second row naming the same predecessor) is refused by the database itself
    await expect(
      tamper(
        location,
        "insert into audit_log (seq, at, actor, action, subject, detail, prev_sha256, sha256) values (?, ?, ?, ?, ?, ?, ?, ?)",
        [100, "2026-01-01T00:00:00.000Z", "x", "x", "x", "{}", rows[4]!.sha256, sha("9")],
      ),
    ).rejects.toThrow(/unique|UNIQUE/);
  });

  it("names a removed row", async () => {
    const { store, location } = await stores.fresh();
    for (let i = 0; i < 3; i++) await appendAudit(store, { actor: "a", action: "x", subject: "s" });
    await tamper(location, "delete from audit_log where seq = 2");
    expect(await verifyAuditLog(store)).toMatchObject({
      ok: false,
      rows: 1,
      firstBad: { seq: 3, reason: "rows 2 to 2 are missing (row 1 is followed by row 3)" },
    });
  });

  it("rolls back a state change together with its audit row", async () => {
    const { store } = await stores.fresh();
    const c = await candidateReadyForGates(store);
    const before = await listAudit(store);
    await expect(
      store.transaction(async (tx) => {
        await transitionCandidate(tx, c.id, "ready", { actor: "alice" });
        throw new Error("the gate runner crashed");
      }),
    ).rejects.toThrow("crashed");
    expect((await requireCandidate(store, c.id)).state).toBe("gating");
    expect(await listAudit(store)).toEqual(before);
    expect((await verifyAuditLog(store)).ok).toBe(true);
  });
});
