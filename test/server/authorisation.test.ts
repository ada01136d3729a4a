/**
 * Authorisation as a table: every route the server registers × every role, and the credentials
 * that are nobody (none, malformed, expired, revoked, forged session cookie) and a session
 * without its CSRF token. Exactly the roles the permissions table grants get past authorisation;
 * every other request is a 401 or 403 and changes nothing in the store. A route the table below
 * does not know fails the test, so a new route cannot skip it. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, issueToken } from "../../src/accounts/index.js";
import { allows, type Permission, ROLES, type Role } from "../../src/accounts/roles.js";
import { newSessionId } from "../../src/accounts/secrets.js";
import { buildProgram } from "../../src/cli/main.js";
import { type ActionName, availableActions } from "../../src/server/actions.js";
import { revokeApiToken } from "../../src/store/accounts.js";
import { startRun } from "../../src/store/runs.js";
import { ask, login } from "../helpers/http.js";
import { type ServerFixture, seedStore, startServerFixture } from "../helpers/serve.js";
import { BACKENDS, useStores } from "../helpers/stores.js";

const ACTIONS = await availableActions(buildProgram().commands);

interface Route {
  method: string;
  url: string;
  permission: Permission | "public" | undefined;
}

/** A request each route gets: its parameters filled and a body that passes its schema. */
function sampleOf(r: Route, ids: { candidate: number; run: number; victimToken: number }, tag: string) {
  const url = r.url
    .replace(":layer", "dev")
    .replace(":target", "nowhere")
    .replace(":name", "victim")
    .replace(
      ":id",
      r.url.startsWith("/tokens") || r.url.startsWith("/api/v1/tokens")
        ? String(ids.victimToken)
        : r.url.includes("/runs/")
          ? String(ids.run)
          : String(ids.candidate),
    );
  const key = `${r.method} ${r.url.replace(/^\/api\/v1/, "")}`;
  const bodies: Record<string, unknown> = {
    "POST /updates": { layer: "nolayer", arch: "x86_64" },
    "POST /layers/:layer/update": { arch: "aarch64" },
    "POST /candidates/:id/approve": { reason: "looks right" },
    "POST /candidates/:id/reject": { reason: "no" },
    "POST /candidates/:id/promote": { target: "nowhere" },
    "POST /targets/:target/rollback": { layer: "2025.06/compat/linux/x86_64" },
    "POST /watch": {},
    "POST /users": { name: `u${tag}`, roles: ["viewer"] },
    "POST /users/:name/revoke": {},
    "POST /users/:name/tokens": { label: "t" },
    "POST /tokens/:id/revoke": {},
    "POST /logout": {},
    "POST /login": { token: "compat_not-a-token" },
  };
  if (r.method === "POST" && !(key in bodies)) throw new Error(`no sample body for ${key}: add one`);
  return { url, body: r.method === "POST" ? bodies[key] : undefined };
}

/** What a request may change, as one comparable value. */
async function snapshot(f: ServerFixture): Promise<unknown> {
  // a job an allowed request started ends on its own time: wait for it, so it is not counted
  await Promise.all(f.server.ctx.jobs.running().map((j) => j.done));
  const store = f.store;
  const count = async (t: "audit_log" | "runs" | "approvals" | "sessions" | "leases" | "users") =>
    Number(
      (
        await store.db
          .selectFrom(t)
          .select((e) => e.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    audit: await count("audit_log"),
    runs: await count("runs"),
    approvals: await count("approvals"),
    sessions: await count("sessions"),
    leases: await count("leases"),
    users: await count("users"),
    disabled: await store.db.selectFrom("users").select(["name", "disabled_at"]).orderBy("name").execute(),
    tokens: await store.db.selectFrom("api_tokens").select(["id", "revoked_at"]).orderBy("id").execute(),
    candidates: await store.db.selectFrom("candidates").select(["id", "state"]).orderBy("id").execute(),
  };
}

describe.each(BACKENDS)("authorisation table (%s)", (backend) => {
  const stores = useStores(backend);
  let f: ServerFixture;
  const routes: Route[] = [];
  let ids: { candidate: number; run: number; victimToken: number };
  const bad: Record<string, { token?: string; cookie?: string; csrf?: string }> = {};

  beforeAll(async () => {
    f = await startServerFixture({
      location: await stores.location(),
      serve: { onRoute: (r) => routes.push(r) },
    });
    const seeded = await seedStore(f.store);
    const run = await startRun(f.store, { kind: "job", detail: {} });
    const victim = await addUser(f.store, { name: "victim", roles: ["viewer"] }, "test-setup");
    ids = { candidate: seeded.candidate, run: run.id, victimToken: victim.token.record.id };

    const expired = await issueToken(f.store, "vera", { label: "old" }, "test-setup");
    await f.store.db
      .updateTable("api_tokens")
      .set({ expires_at: "2020-01-01T00:00:00.000Z" })
      .where("id", "=", expired.record.id)
      .execute();
    const revoked = await issueToken(f.store, "root1", { label: "gone" }, "test-setup");
    await revokeApiToken(f.store, revoked.record.id, "test-setup");
    const viewerSession = await login(f.url, { user: "vera", password: f.password("viewer") });
    const adminSession = await login(f.url, { token: f.tokens.admin });
    bad["no credential"] = {};
    bad["malformed Authorization"] = { token: "x y" };
    bad["unknown token"] = { token: `compat_${"A".repeat(43)}` };
    bad["expired token"] = { token: expired.token };
    bad["revoked token (an admin's)"] = { token: revoked.token };
    bad["forged session cookie"] = { cookie: `compat_session=${newSessionId()}`, csrf: "x" };
    bad["admin session, no CSRF token"] = { cookie: adminSession.cookie };
    bad["admin session, wrong CSRF token"] = { cookie: adminSession.cookie, csrf: viewerSession.csrf };
  });
  afterAll(async () => f?.stop());

  it("walks every route: only the roles the table grants get past authorisation", async () => {
    expect(routes.length).toBeGreaterThan(40);
    const checked = new Set<string>();
    let n = 0;
    for (const r of routes) {
      if (r.method === "HEAD") continue; // fastify's HEAD of each GET: the same hook
      expect(r.permission, `${r.method} ${r.url} declares no permission`).toBeDefined();
      checked.add(`${r.method} ${r.url}`);
      if (r.permission === "public") continue;
      const permission = r.permission as Permission;
      const mutating = r.method !== "GET";
      for (const role of ROLES) {
        const { url, body } = sampleOf(r, ids, `${n++}`);
        const before = allows([role], permission) ? undefined : await snapshot(f);
        const a = await ask(f.url, url, { method: r.method, token: f.tokens[role as Role], body });
        const where = `${role}: ${r.method} ${url} → ${a.status} ${a.text.slice(0, 200)}`;
        if (allows([role], permission)) {
          expect([401, 403], where).not.toContain(a.status);
          expect(a.status, where).toBeLessThan(500);
        } else {
          expect(a.status, where).toBe(403);
          if (url.startsWith("/api/")) expect((a.json as { error: string }).error, where).toBe("forbidden");
          else expect(a.text, where).toContain("may not do this");
          expect(await snapshot(f), where).toEqual(before);
        }
      }
      for (const [what, cred] of Object.entries(bad)) {
        const csrfOnly = what.includes("CSRF");
        if (csrfOnly && !mutating) continue;
        const { url, body } = sampleOf(r, ids, `${n++}`);
        const before = await snapshot(f);
        const a = await ask(f.url, url, { method: r.method, body, ...cred });
        const where = `${what}: ${r.method} ${url} → ${a.status} ${a.text.slice(0, 200)}`;
        expect(a.status, where).toBe(csrfOnly ? 403 : 401);
        expect(await snapshot(f), where).toEqual(before);
      }
    }
    // the table knows the routes the issue asks for (and the test walked them); an action's route
    // is there exactly when this installation's compat has its command
    for (const must of ["GET /", "GET /api/v1/dashboard", "GET /api/v1/candidates/:id", "POST /api/v1/users"])
      expect(checked).toContain(must);
    const actionRoutes: [ActionName, string][] = [
      ["approve", "POST /api/v1/candidates/:id/approve"],
      ["reject", "POST /api/v1/candidates/:id/reject"],
      ["promote", "POST /api/v1/candidates/:id/promote"],
      ["rollback", "POST /api/v1/targets/:target/rollback"],
      ["update", "POST /api/v1/updates"],
      ["watch", "POST /api/v1/watch"],
    ];
    for (const [action, route] of actionRoutes) expect(checked.has(route), route).toBe(ACTIONS.has(action));
  });

  it("a session with its CSRF token acts as its user, no more", async () => {
    const s = await login(f.url, { user: "max", password: f.password("maintainer") });
    const ok = await ask(f.url, "/api/v1/updates", {
      method: "POST",
      cookie: s.cookie,
      csrf: s.csrf,
      body: { layer: "nolayer", arch: "x86_64" },
    });
    expect(ok.status).toBe(404); // past authorisation and CSRF: the layer is unknown
    const denied = await ask(f.url, "/api/v1/users", {
      method: "POST",
      cookie: s.cookie,
      csrf: s.csrf,
      body: { name: "sneaky", roles: ["admin"] },
    });
    expect(denied.status).toBe(403);
    expect(await f.store.db.selectFrom("users").selectAll().where("name", "=", "sneaky").execute()).toEqual(
      [],
    );
    // after logout the cookie is nobody
    const out = await ask(f.url, "/logout", { method: "POST", cookie: s.cookie, csrf: s.csrf, body: {} });
    expect(out.status).toBe(303);
    expect((await ask(f.url, "/api/v1/me", { cookie: s.cookie })).status).toBe(401);
  });

  it("a revoked user's token and session stop working at once", async () => {
    const u = await addUser(
      f.store,
      { name: "leaver", roles: ["maintainer"], password: "pw-leaver-long-enough" },
      "test-setup",
    );
    const s = await login(f.url, { user: "leaver", password: "pw-leaver-long-enough" });
    expect((await ask(f.url, "/api/v1/me", { token: u.token.token })).status).toBe(200);
    const r = await ask(f.url, "/api/v1/users/leaver/revoke", {
      method: "POST",
      token: f.tokens.admin,
      body: {},
    });
    expect(r.status).toBe(200);
    expect((await ask(f.url, "/api/v1/me", { token: u.token.token })).status).toBe(401);
    expect((await ask(f.url, "/api/v1/me", { cookie: s.cookie })).status).toBe(401);
    const audit = await ask(f.url, "/api/v1/audit?limit=20", { token: f.tokens.viewer });
    const rows = (audit.json as { entries: { actor: string; action: string; subject: string }[] }).entries;
    expect(rows.some((e) => e.actor === "root1" && e.subject.includes("leaver"))).toBe(true);
  });
});
