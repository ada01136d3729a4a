/**
 * The HTTP API and the pages over real HTTP, on SQLite and PostgreSQL: what the reads show of a
 * seeded store, the OpenAPI document against the routes, operations (/healthz, /metrics), and
 * hostile input: every request below is refused with a JSON error that says what was wrong, never
 * a 500, and the store is the same after it. Every text a user or an advisory can write is
 * rendered inert in the pages.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { type ActionName, availableActions } from "../../src/server/actions.js";
import { ask } from "../helpers/http.js";
import { type Seeded, type ServerFixture, seedStore, startServerFixture } from "../helpers/serve.js";
import { BACKENDS, useStores } from "../helpers/stores.js";

const ACTIONS = await availableActions(buildProgram().commands);
const PAYLOAD = `<script>alert("x")</script><img src=x onerror=alert(1)>"'&`;

describe.each(BACKENDS)("compat serve API (%s)", (backend) => {
  const stores = useStores(backend);
  let f: ServerFixture;
  let seeded: Seeded;
  const routes: { method: string; url: string }[] = [];

  beforeAll(async () => {
    f = await startServerFixture({
      location: await stores.location(),
      siteYaml: "targets:\n  staging:\n    to: local:stage\n    policy: { approvals: 0 }\n",
      serve: { onRoute: (r) => routes.push(r) },
    });
    seeded = await seedStore(f.store, PAYLOAD);
  });
  afterAll(async () => f?.stop());

  const get = (path: string, token = f.tokens.viewer) => ask(f.url, path, { token });

  it("the dashboard: each layer × arch with what its targets hold, findings by severity, the pending candidate", async () => {
    const a = await get("/api/v1/dashboard");
    expect(a.status).toBe(200);
    const d = a.json as {
      targets: string[];
      rows: {
        layer: string;
        arch: string;
        targets: Record<string, { sha256: string; ageSeconds: number }>;
        findings: Record<string, number>;
        pending: { id: number; state: string; gates: Record<string, string> } | null;
      }[];
    };
    expect(d.targets).toEqual(["staging"]);
    expect(d.rows).toHaveLength(1);
    const row = d.rows[0]!;
    expect([row.layer, row.arch]).toEqual(["dev", "x86_64"]);
    expect(row.targets.staging!.sha256).toBe("b".repeat(64));
    expect(row.findings).toEqual({ high: 1, low: 1 });
    expect(row.pending).toMatchObject({ id: seeded.candidate, state: "ready" });
    expect(Object.values(row.pending!.gates)).toEqual(["passed", "passed", "passed", "passed"]);
  });

  it("a candidate, a layer, findings with filters, runs and the audit log", async () => {
    const c = await get(`/api/v1/candidates/${seeded.candidate}`);
    expect(c.status).toBe(200);
    const cv = c.json as { candidate: { fullSha256: string }; gates: { gate: string; state: string }[] };
    expect(cv.candidate.fullSha256).toBe("d".repeat(64));
    expect(cv.gates.map((g) => g.gate).sort()).toEqual(["audit", "checks", "delta", "impact"]);
    const l = await get("/api/v1/layers/dev");
    expect((l.json as { publications: unknown[] }).publications).toHaveLength(1);
    const high = await get("/api/v1/findings?severity=high");
    expect((high.json as { findings: { advisoryId: string }[] }).findings.map((x) => x.advisoryId)).toEqual([
      "GLSA-202401-01",
    ]);
    const resolved = await get("/api/v1/findings?status=resolved");
    expect((resolved.json as { findings: unknown[] }).findings).toEqual([]);
    const list = await get("/api/v1/candidates?state=ready");
    expect((list.json as { candidates: { id: number }[] }).candidates.map((x) => x.id)).toEqual([
      seeded.candidate,
    ]);
    const audit = await get(`/api/v1/audit?subject=candidate:${seeded.candidate}`);
    const actions = (audit.json as { entries: { action: string }[] }).entries.map((e) => e.action);
    expect(actions).toContain("candidate.built");
    expect((await get("/api/v1/runs")).status).toBe(200);
  });

  it("serves /openapi.json documenting exactly the API's routes", async () => {
    const a = await ask(f.url, "/openapi.json");
    expect(a.status).toBe(200);
    const doc = a.json as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    const api = routes
      .filter(
        (r) => r.method !== "HEAD" && (r.url.startsWith("/api/") || ["/healthz", "/metrics"].includes(r.url)),
      )
      .map((r) => `${r.method} ${r.url.replace(/:([a-z]+)/g, "{$1}")}`)
      .sort();
    expect(documented).toEqual([...new Set(api)]);
    // each route that takes a body documents it
    for (const [path, ops] of Object.entries(doc.paths))
      if (ops.post) expect((ops.post as { requestBody?: unknown }).requestBody, path).toBeDefined();
  });

  it("/healthz and /metrics are public; metrics count layers, findings, candidates", async () => {
    const h = await ask(f.url, "/healthz");
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ status: "ok", backend });
    const m = await ask(f.url, "/metrics");
    expect(m.status).toBe(200);
    expect(m.text).toMatch(/compat_published_layers\{target="staging"\} 1/);
    expect(m.text).toMatch(/compat_open_findings\{severity="high"\} 1/);
    expect(m.text).toMatch(/compat_candidates\{state="ready"\} 1/);
    expect(m.text).toContain("compat_last_watch_age_seconds");
  });

  it("renders every text a user or an advisory wrote inert, with a strict content security policy", async () => {
    for (const path of [
      "/",
      "/layers/dev",
      `/candidates/${seeded.candidate}`,
      "/candidates",
      "/findings",
      "/audit",
    ]) {
      const a = await get(path);
      expect(a.status, path).toBe(200);
      expect(a.headers.get("content-type"), path).toContain("text/html");
      expect(a.headers.get("content-security-policy"), path).toContain("default-src 'none'");
      expect(a.text, path).not.toContain("<script");
      expect(a.text, path).not.toContain("<img src=x");
    }
    const c = await get(`/candidates/${seeded.candidate}`);
    expect(c.text).toContain("&lt;script>alert(&quot;x&quot;)&lt;/script>&lt;img src=x onerror=alert(1)>");
  });

  it("a page asked for without a login shows the login form (401), an API read gives JSON", async () => {
    const page = await ask(f.url, "/", { headers: { accept: "text/html" } });
    expect(page.status).toBe(401);
    expect(page.text).toContain('name="password"');
    const api = await ask(f.url, "/api/v1/dashboard");
    expect(api.status).toBe(401);
    expect(api.json).toMatchObject({ error: "unauthenticated" });
    expect(api.headers.get("www-authenticate")).toContain("Bearer");
  });

  describe("hostile input: a clear JSON error, never a 500, nothing changed", () => {
    const big = "x".repeat(70 * 1024);
    const cases: [string, string, string, { body?: unknown; contentType?: string }, number][] = [
      ["malformed JSON", "POST", "/api/v1/updates", { body: '{"layer": ' }, 400],
      ["JSON that is not an object", "POST", "/api/v1/updates", { body: "[1,2]" }, 400],
      ["an oversized body", "POST", "/api/v1/updates", { body: JSON.stringify({ layer: big }) }, 413],
      [
        "a media type it does not take",
        "POST",
        "/api/v1/updates",
        { body: "<x/>", contentType: "application/xml" },
        415,
      ],
      [
        "an unknown field",
        "POST",
        "/api/v1/updates",
        { body: { layer: "dev", arch: "x86_64", shell: "rm -rf /" } },
        400,
      ],
      [
        "a layer name that climbs",
        "POST",
        "/api/v1/updates",
        { body: { layer: "../../etc", arch: "x86_64" } },
        400,
      ],
      ["an arch that climbs", "POST", "/api/v1/updates", { body: { layer: "dev", arch: "../x" } }, 400],
      [
        "an option smuggled as a layer",
        "POST",
        "/api/v1/updates",
        { body: { layer: "--config=/etc/shadow", arch: "x86_64" } },
        400,
      ],
      [
        "a package with a shell",
        "POST",
        "/api/v1/updates",
        { body: { layer: "dev", arch: "x86_64", packages: ["$(reboot)"] } },
        400,
      ],
      ["a reason with a newline", "POST", `/api/v1/candidates/1/reject`, { body: { reason: "a\nb" } }, 400],
      [
        "a target that climbs",
        "POST",
        "/api/v1/targets/..%2F..%2Froot/rollback",
        { body: { layer: "2025.06/compat/linux/x86_64" } },
        400,
      ],
      [
        "a rollback layer dir that climbs",
        "POST",
        "/api/v1/targets/staging/rollback",
        { body: { layer: "../../../etc/compat/x/y" } },
        400,
      ],
      [
        "an absolute rollback layer dir",
        "POST",
        "/api/v1/targets/staging/rollback",
        { body: { layer: "/etc/compat/linux/x86_64" } },
        400,
      ],
      [
        "a promotion target that climbs",
        "POST",
        "/api/v1/candidates/1/promote",
        { body: { target: "../prod" } },
        400,
      ],
      ["a candidate id that is a path", "GET", "/api/v1/candidates/..%2F..%2Fetc%2Fpasswd", {}, 400],
      ["a negative id", "GET", "/api/v1/candidates/-1", {}, 400],
      ["an id past 32 bits", "GET", "/api/v1/runs/99999999999", {}, 400],
      ["an unknown candidate", "GET", "/api/v1/candidates/424242", {}, 404],
      ["an unknown layer", "GET", "/api/v1/layers/nolayer", {}, 404],
      ["a layer name with a NUL", "GET", "/api/v1/layers/dev%00x", {}, 400],
      ["a run log that is not there", "GET", "/api/v1/runs/424242/log", {}, 404],
      ["a limit too large", "GET", "/api/v1/findings?limit=1000000", {}, 400],
      ["an unknown filter", "GET", "/api/v1/findings?sql=1", {}, 400],
      ["a severity that is not a word", "GET", "/api/v1/findings?severity=%27%20or%201=1", {}, 400],
      ["an unknown route", "GET", "/api/v1/../../etc/passwd", {}, 404],
      ["an unknown API route", "DELETE", "/api/v1/candidates/1", {}, 404],
      ["a token for an unknown user", "POST", "/api/v1/users/nobody/tokens", { body: {} }, 404],
      ["revoking an unknown user", "POST", "/api/v1/users/nobody/revoke", { body: {} }, 404],
      ["revoking an unknown token", "POST", "/api/v1/tokens/424242/revoke", { body: {} }, 404],
      [
        "a body with __proto__",
        "POST",
        "/api/v1/users",
        { body: '{"__proto__": {"admin": true}, "name": "p", "roles": ["viewer"]}' },
        400,
      ],
      [
        "a body with constructor.prototype",
        "POST",
        "/api/v1/users",
        { body: '{"constructor": {"prototype": {"x": 1}}, "name": "p", "roles": ["viewer"]}' },
        400,
      ],
      ["a role twice", "POST", "/api/v1/users", { body: { name: "p", roles: ["viewer", "viewer"] } }, 400],
      [
        "an update from an unknown target",
        "POST",
        "/api/v1/updates",
        { body: { layer: "dev", arch: "x86_64", from: "../x" } },
        400,
      ],
    ];
    /** The action a path asks for: its route exists only when this installation's compat can do it. */
    const actionOf = (path: string): ActionName | undefined =>
      path === "/api/v1/updates"
        ? "update"
        : (/\/(approve|reject|promote|rollback)$/.exec(path)?.[1] as ActionName | undefined);
    it.each(cases)("%s: %s %s", async (what, method, path, o, expected) => {
      const action = actionOf(path);
      // a route that does not exist is a 404, once the body parser (JSON, size) let the request through
      const parsedFirst = expected === 413 || what === "malformed JSON";
      const status = action && !ACTIONS.has(action) && !parsedFirst ? 404 : expected;
      const token = path.includes("reject") ? f.tokens.approver : f.tokens.admin;
      const before = await f.store.db
        .selectFrom("audit_log")
        .select("seq")
        .orderBy("seq", "desc")
        .limit(1)
        .execute();
      const a = await ask(f.url, path, { method, token, ...o });
      expect(a.status, a.text).toBe(status);
      const err = a.json as { error: string; message: string };
      expect(typeof err.error, a.text).toBe("string");
      expect(err.message.length, a.text).toBeGreaterThan(5);
      const after = await f.store.db
        .selectFrom("audit_log")
        .select("seq")
        .orderBy("seq", "desc")
        .limit(1)
        .execute();
      expect(after).toEqual(before);
    });
  });

  it("user names, roles and passwords from the network are checked", async () => {
    const admin = f.tokens.admin;
    const cases: [unknown, number][] = [
      [{ name: "<b>x</b>", roles: ["viewer"] }, 400],
      [{ name: "ok-name", roles: ["root"] }, 400],
      [{ name: "ok-name", roles: [] }, 400],
      [{ name: "ok-name", roles: ["viewer"], password: "short" }, 400],
      [{ name: "vera", roles: ["admin"] }, 400],
    ];
    for (const [body, status] of cases) {
      const a = await ask(f.url, "/api/v1/users", { method: "POST", token: admin, body });
      expect(a.status, `${JSON.stringify(body)} → ${a.text}`).toBe(status);
    }
    const vera = await ask(f.url, "/api/v1/me", { token: f.tokens.viewer });
    expect((vera.json as { user: { roles: string[] } }).user.roles).toEqual(["viewer"]);
  });

  it("a new token is shown once, works, expires and is revoked", async () => {
    const made = await ask(f.url, "/api/v1/users/vera/tokens", {
      method: "POST",
      token: f.tokens.admin,
      body: { label: "ci", expiresDays: 1 },
    });
    expect(made.status).toBe(201);
    const t = made.json as { token: string; tokenId: number };
    expect((await ask(f.url, "/api/v1/me", { token: t.token })).status).toBe(200);
    const listed = await ask(f.url, "/api/v1/users", { token: f.tokens.admin });
    expect(listed.text).not.toContain(t.token);
    const stored = await f.store.db.selectFrom("api_tokens").selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(t.token);
    const r = await ask(f.url, `/api/v1/tokens/${t.tokenId}/revoke`, {
      method: "POST",
      token: f.tokens.admin,
      body: {},
    });
    expect(r.status).toBe(200);
    expect((await ask(f.url, "/api/v1/me", { token: t.token })).status).toBe(401);
  });
});
