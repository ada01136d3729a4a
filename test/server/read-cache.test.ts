/**
 * The read cache of `compat serve` may keep an answer only while the store has not changed. On
 * SQLite and PostgreSQL: the store's revision stays the same across reads and changes with every
 * committed write, whether this connection made it, another connection of this process, or
 * another process (the command line); and through a running server, every such write is in the
 * very next API answer (a reading, a revoked token, a finding written without an audit row).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, startSession } from "../../src/accounts/index.js";
import { SESSION_COOKIE } from "../../src/server/auth.js";
import { ReadCache } from "../../src/server/read-cache.js";
import { disableUser } from "../../src/store/accounts.js";
import { listCandidates } from "../../src/store/candidates.js";
import { observeFindings } from "../../src/store/findings.js";
import type { StoreLocation } from "../../src/store/location.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/store.js";
import { compat } from "../helpers/cli.js";
import { ask } from "../helpers/http.js";
import { type Seeded, type ServerFixture, seedStore, startServerFixture } from "../helpers/serve.js";
import { BACKENDS, useStores } from "../helpers/stores.js";

const storeLine = (l: StoreLocation) => (l.backend === "sqlite" ? `sqlite:${l.path}` : l.url);

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "compat-read-cache-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(BACKENDS)("the store's revision (%s)", (backend) => {
  const stores = useStores(backend);
  let store: Store;
  let other: Store;
  let location: StoreLocation;
  const revision = () => store.backend.revision();

  beforeAll(async () => {
    ({ store, location } = await stores.fresh());
    other = await openStore(location, { actor: "other" });
  });
  afterAll(async () => other?.close());

  it("is the same while only reads happen", async () => {
    const r = await revision();
    await listCandidates(store, {});
    await listCandidates(other, {});
    expect(await revision()).toBe(r);
    expect(await revision()).toBe(r);
  });

  it("changes with a write of this connection, of another connection, of another process", async () => {
    const r0 = await revision();
    await addUser(store, { name: "own", roles: ["viewer"] }, "tester");
    const r1 = await revision();
    expect(r1).not.toBe(r0);
    await addUser(other, { name: "other", roles: ["viewer"] }, "tester");
    const r2 = await revision();
    expect(r2).not.toBe(r1);
    const config = join(work, `${backend}.yaml`);
    writeFileSync(config, `store: ${JSON.stringify(storeLine(location))}\n`);
    const cli = compat(["user", "add", "cli", "--role", "viewer", "--config", config]);
    expect(cli.status, cli.stderr).toBe(0);
    const r3 = await revision();
    expect(r3).not.toBe(r2);
    expect(await revision()).toBe(r3);
  });

  it("a cache keeps a value for its revision only, and drops what failed", async () => {
    const cache = new ReadCache(store);
    let computed = 0;
    const count = async () => ++computed;
    const r = await cache.revision();
    expect(await cache.get(r, "k", count)).toBe(1);
    expect(await cache.get(r, "k", count)).toBe(1);
    await addUser(other, { name: "another", roles: ["viewer"] }, "tester");
    const r2 = await cache.revision();
    expect(r2).not.toBe(r);
    expect(cache.size).toBe(0);
    expect(await cache.get(r2, "k", count)).toBe(2);
    // a request that read the older revision computes for itself and keeps nothing
    expect(await cache.get(r, "k", count)).toBe(3);
    expect(await cache.get(r2, "k", count)).toBe(2);
    await expect(cache.get(r2, "bad", async () => Promise.reject(new Error("store away")))).rejects.toThrow();
    expect(await cache.get(r2, "bad", async () => "back")).toBe("back");
  });

  it("the dashboard's counts of open findings follow every observation: opened, resolved, reopened", async () => {
    const raw = async () =>
      (
        await store.db
          .selectFrom("findings")
          .select(["target", "layer", "arch", "source", "severity", (eb) => eb.fn.countAll<number>().as("n")])
          .where("resolved_at", "is", null)
          .groupBy(["target", "layer", "arch", "source", "severity"])
          .execute()
      )
        .map((r) => `${r.target}/${r.layer}/${r.arch}/${r.source}/${r.severity}=${Number(r.n)}`)
        .sort();
    const kept = async () =>
      (await store.db.selectFrom("finding_counts").selectAll().execute())
        .map((r) => `${r.target}/${r.layer}/${r.arch}/${r.source}/${r.severity}=${Number(r.open)}`)
        .sort();
    const finding = (id: string, severity: string) => ({
      advisoryId: id,
      package: "dev-libs/pkg",
      installed: `1.${id}`,
      cves: [],
      severity,
    });
    const scope = { target: "staging", layer: "dev", arch: "x86_64", source: "glsa" };
    await observeFindings(store, scope, [finding("a", "high"), finding("b", "high"), finding("c", "low")]);
    await observeFindings(other, { ...scope, source: "debian" }, [finding("d", "critical")]);
    expect(await kept()).toEqual(await raw());
    expect(await kept()).toContain("staging/dev/x86_64/glsa/high=2");
    await observeFindings(other, scope, [finding("a", "high")]); // b and c resolved
    expect(await kept()).toEqual(await raw());
    expect(await kept()).not.toContain("staging/dev/x86_64/glsa/low=1");
    await observeFindings(store, scope, [finding("a", "high"), finding("c", "low")]); // c reopened
    expect(await kept()).toEqual(await raw());
    expect(await kept()).toContain("staging/dev/x86_64/glsa/low=1");
    await observeFindings(store, scope, []);
    expect(await kept()).toEqual(await raw());
    expect(await kept()).toEqual(["staging/dev/x86_64/debian/critical=1"]);
  });

  it("a cache stays within its limits whatever is asked", async () => {
    const cache = new ReadCache(store, { maxEntries: 10, maxBytes: 1000 });
    const r = await cache.revision();
    for (let i = 0; i < 25; i++) await cache.get(r, `k${i}`, async () => i);
    expect(cache.size).toBeLessThanOrEqual(10);
    for (let i = 0; i < 5; i++)
      await cache.get(r, `big${i}`, async () => "x".repeat(400), { bytes: (v) => v.length });
    expect(cache.size).toBeLessThanOrEqual(3);
  });

  it("ever new keys push out the least recently used only: what is read often stays; unknowns are not kept", async () => {
    const cache = new ReadCache(store, { maxEntries: 10 });
    const r = await cache.revision();
    let computed = 0;
    const dashboard = () =>
      cache.get(r, "dashboard", async () => {
        computed++;
        return "rows";
      });
    await dashboard();
    for (let i = 0; i < 100; i++) {
      await cache.get(r, `json\0/api/v1/x?i=${i}`, async () => i); // a flood of distinct URLs
      await cache.get(r, `token\0${i}`, async () => undefined, { keep: (v) => v !== undefined });
      if (i % 5 === 0) await dashboard();
    }
    expect(computed).toBe(1);
    expect(cache.size).toBeLessThanOrEqual(10);
    const tokens = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        cache.get(r, `token\0${i}`, async () => "recomputed", { keep: () => false }),
      ),
    );
    expect(new Set(tokens)).toEqual(new Set(["recomputed"])); // none of the unknowns was kept
  });
});

describe.each(BACKENDS)("compat serve reads what was just written (%s)", (backend) => {
  const stores = useStores(backend);
  let f: ServerFixture;
  let seeded: Seeded;
  let location: StoreLocation;
  let config: string;

  beforeAll(async () => {
    location = await stores.location();
    f = await startServerFixture({
      location,
      siteYaml: "targets:\n  staging:\n    to: local:stage\n    policy: { approvals: 0 }\n",
    });
    seeded = await seedStore(f.store);
    config = join(f.dir, "compat.yaml");
  });
  afterAll(async () => f?.stop());

  const get = (path: string, token = f.tokens.viewer) => ask(f.url, path, { token });
  /** Asked twice, so the second answer is the kept one. */
  const warm = async (path: string, token = f.tokens.viewer) => {
    await get(path, token);
    return get(path, token);
  };

  it("a token revoked by the command line is refused on the next request", async () => {
    const token = (await addUser(f.store, { name: "temp", roles: ["viewer"] }, "tester")).token.token;
    expect((await warm("/api/v1/candidates", token)).status).toBe(200);
    const cli = compat(["user", "revoke", "temp", "--config", config], { cwd: f.dir });
    expect(cli.status, cli.stderr).toBe(0);
    const after = await get("/api/v1/candidates", token);
    expect(after.status).toBe(401);
  });

  it("a user disabled by another connection is refused on the next request, token and session alike", async () => {
    const { user, token } = await addUser(f.store, { name: "leaver", roles: ["viewer"] }, "tester");
    const session = await startSession(f.store, user, 3_600_000, "token");
    const cookie = `${SESSION_COOKIE}=${session.id}`;
    expect((await warm("/api/v1/candidates", token.token)).status).toBe(200);
    await ask(f.url, "/api/v1/candidates", { cookie });
    expect((await ask(f.url, "/api/v1/candidates", { cookie })).status).toBe(200);
    const other = await openStore(location, { actor: "admin" });
    try {
      await disableUser(other, "leaver", "admin");
    } finally {
      await other.close();
    }
    expect((await get("/api/v1/candidates", token.token)).status).toBe(401);
    expect((await ask(f.url, "/api/v1/candidates", { cookie })).status).toBe(401);
  });

  it("a token and a session that expire while kept are refused once they have (no write in between)", async () => {
    // long enough for the requests before it on a loaded machine, short enough to wait for
    const lifetimeMs = 5000;
    const soon = new Date(Date.now() + lifetimeMs).toISOString();
    const { user, token } = await addUser(
      f.store,
      { name: "shortlived", roles: ["viewer"], tokenExpiresAt: soon },
      "tester",
    );
    const session = await startSession(f.store, user, lifetimeMs, "token");
    const cookie = `${SESSION_COOKIE}=${session.id}`;
    expect((await warm("/api/v1/candidates", token.token)).status).toBe(200);
    await ask(f.url, "/api/v1/candidates", { cookie });
    expect((await ask(f.url, "/api/v1/candidates", { cookie })).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(soon) - Date.now()) + 300));
    expect((await get("/api/v1/candidates", token.token)).status).toBe(401);
    expect((await ask(f.url, "/api/v1/candidates", { cookie })).status).toBe(401);
  });

  it("a finding written by another process (no audit row) is in the next findings list and dashboard", async () => {
    const before = await warm("/api/v1/findings?severity=critical");
    expect((before.json as { findings: unknown[] }).findings).toEqual([]);
    const dash = await warm("/api/v1/dashboard");
    expect((dash.json as { rows: { findings: Record<string, number> }[] }).rows[0]!.findings.critical).toBe(
      undefined,
    );
    // another connection (on SQLite another file handle, on PostgreSQL another pool) in this process…
    const other = await openStore(location, { actor: "watch" });
    try {
      await observeFindings(
        other,
        // a source of its own: the seeded findings of other sources stay as they are
        { target: "staging", layer: "dev", arch: "x86_64", source: "test-feed" },
        [
          {
            advisoryId: "GLSA-209901-01",
            package: "dev-libs/openssl",
            installed: "3.0.1",
            fix: ">=dev-libs/openssl-3.0.15",
            cves: ["CVE-2099-0001"],
            severity: "critical",
            title: "OpenSSL: written behind the server's back",
          },
        ],
      );
    } finally {
      await other.close();
    }
    const now = await get("/api/v1/findings?severity=critical");
    expect((now.json as { findings: { advisoryId: string }[] }).findings.map((x) => x.advisoryId)).toEqual([
      "GLSA-209901-01",
    ]);
    const dashNow = await get("/api/v1/dashboard");
    expect(
      (dashNow.json as { rows: { findings: Record<string, number> }[] }).rows[0]!.findings.critical,
    ).toBe(1);
  });

  it("a change through the server's own store is in the next read of a candidate and a layer", async () => {
    const c = await warm(`/api/v1/candidates/${seeded.candidate}`);
    expect((c.json as { candidate: { reason: string | null } }).candidate.reason).not.toBe("changed");
    await warm("/api/v1/layers/dev");
    await f.store.db
      .updateTable("candidates")
      .set({ reason: "changed" })
      .where("id", "=", seeded.candidate)
      .execute();
    const after = await get(`/api/v1/candidates/${seeded.candidate}`);
    expect((after.json as { candidate: { reason: string } }).candidate.reason).toBe("changed");
    const layer = await get("/api/v1/layers/dev");
    expect(
      (layer.json as { candidates: { id: number; reason: string }[] }).candidates.find(
        (x) => x.id === seeded.candidate,
      )?.reason,
    ).toBe("changed");
  });
});
