/**
 * The web UI: server-rendered pages over the same read model and actions as the API, usable
 * without JavaScript. A form's POST does what the API does and answers with a redirect (303) to
 * the page that shows the result: the run of a job, the candidate after a verdict.
 */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import {
  addUser,
  authenticatePassword,
  authenticateToken,
  issueToken,
  startSession,
} from "../../accounts/index.js";
import { newCsrfToken, sameSecret } from "../../accounts/secrets.js";
import { disableUser, endSession, listApiTokens, listUsers, revokeApiToken } from "../../store/accounts.js";
import { listAudit } from "../../store/audit.js";
import { CANDIDATE_STATES } from "../../store/candidate-states.js";
import { listCandidates } from "../../store/candidates.js";
import { listFindings } from "../../store/findings.js";
import { getRun, listRuns } from "../../store/runs.js";
import { NotFoundError, promote, rollback, runWatch, startUpdate, verdict } from "../actions.js";
import { clearSessionCookie, LOGIN_COOKIE, setSessionCookie } from "../auth.js";
import { candidateOf, dashboardOf, layerOf } from "../cached-reads.js";
import type { ServerContext } from "../context.js";
import { severityOrder } from "../read-model.js";
import { logFileOf, logTail } from "../run-log.js";
import { ErrorPage, LoginPage, TokenShownPage, UsersPage } from "../views/account.js";
import { CandidatePage } from "../views/candidate.js";
import { dashboardPageBytes } from "../views/dashboard.js";
import { LayerPage } from "../views/layer.js";
import type { PageContext } from "../views/layout.js";
import { renderPage } from "../views/layout.js";
import { AuditPage, CandidatesPage, FindingsPage, RunPage, RunsPage } from "../views/lists.js";
import { streamLog, user } from "./api.js";
import {
  AuditQuery,
  CandidateQuery,
  EmptyBody,
  FindingQuery,
  IdParams,
  LayerParams,
  LoginBody,
  NewTokenBody,
  NewUserBody,
  PromoteBody,
  RollbackBody,
  RunQuery,
  TargetParams,
  UpdateForm,
  UserParams,
  VerdictBody,
} from "./schemas.js";

function pageContext(req: FastifyRequest, ctx: ServerContext): PageContext {
  const a = req.auth;
  return {
    user: a?.user ?? null,
    csrf: a?.via === "session" ? a.csrf : null,
    path: req.url.split("?")[0] ?? "/",
    actions: ctx.actions,
  };
}

/** A page: rendered here, or already bytes (the dashboard). Sent as bytes: encoded once. */
const html = (reply: FastifyReply, page: preact.VNode | Buffer, status = 200) =>
  reply
    .code(status)
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .header("x-frame-options", "DENY")
    .header(
      "content-security-policy",
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    .header("referrer-policy", "same-origin")
    .send(Buffer.isBuffer(page) ? page : Buffer.from(renderPage(page)));

export async function renderError(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  message: string,
  details: string[],
) {
  return html(
    reply,
    <ErrorPage ctx={pageContext(req, ctx)} status={status} message={message} details={details} />,
    status,
  );
}

export async function renderLogin(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  error: string | undefined,
) {
  const token = newCsrfToken();
  reply.setCookie(LOGIN_COOKIE, token, {
    httpOnly: true,
    sameSite: "strict",
    secure: ctx.secureCookies,
    path: "/login",
    maxAge: 3600,
  });
  const next = req.method === "GET" && req.url !== "/login" ? req.url : undefined;
  return html(
    reply,
    <LoginPage
      ctx={{ user: null, csrf: null, path: "/login", actions: ctx.actions }}
      loginCsrf={token}
      error={error}
      next={next}
    />,
    status,
  );
}

/** Only a path of this server: never `//evil.example` or a scheme. */
function safeNext(next: string | undefined): string {
  return next && /^\/(?![/\\])[^\s\\]*$/.test(next) ? next : "/";
}

const DONE: Record<string, string> = {
  approved: "Your approval is recorded.",
  rejected: "Your rejection is recorded.",
  revoked: "Revoked.",
};

export function registerPages(root: FastifyInstance, ctx: ServerContext): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const read = { permission: "read" as const, page: true };
  const hide = { hide: true };
  const Done = Type.Object({ done: Type.Optional(Type.String({ maxLength: 20 })) });

  app.get("/", { config: read, schema: hide }, async (req, reply) =>
    html(reply, dashboardPageBytes(pageContext(req, ctx), await dashboardOf(ctx, req))),
  );

  app.get(
    "/layers/:layer",
    { config: read, schema: { ...hide, params: LayerParams } },
    async (req, reply) => {
      const v = await layerOf(ctx, req, req.params.layer);
      if (!v) throw new NotFoundError(`no layer ${req.params.layer}`);
      const arches = ctx.siteLayers.get(v.name)?.arches ?? v.layer?.arches ?? [];
      const updatable = Object.hasOwn(ctx.site.layers, v.name) ? arches : [];
      return html(
        reply,
        <LayerPage
          ctx={pageContext(req, ctx)}
          v={v}
          arches={updatable}
          targets={Object.keys(ctx.site.targets)}
        />,
      );
    },
  );

  app.get(
    "/candidates",
    { config: read, schema: { ...hide, querystring: CandidateQuery } },
    async (req, reply) => {
      const candidates = await listCandidates(ctx.store, {
        state: req.query.state ? [req.query.state] : undefined,
        layer: req.query.layer || undefined,
        limit: req.query.limit ?? 200,
      });
      return html(
        reply,
        <CandidatesPage
          ctx={pageContext(req, ctx)}
          candidates={candidates}
          states={CANDIDATE_STATES}
          state={req.query.state || undefined}
        />,
      );
    },
  );

  app.get(
    "/candidates/:id",
    { config: read, schema: { ...hide, params: IdParams, querystring: Done } },
    async (req, reply) => {
      const v = await candidateOf(ctx, req, req.params.id);
      if (!v) throw new NotFoundError(`no candidate ${req.params.id}`);
      const done = req.query.done && Object.hasOwn(DONE, req.query.done) ? DONE[req.query.done] : undefined;
      return html(
        reply,
        <CandidatePage
          ctx={pageContext(req, ctx)}
          v={v}
          targets={Object.keys(ctx.site.targets)}
          flash={done ? { kind: "ok", text: done } : undefined}
        />,
      );
    },
  );

  app.get(
    "/findings",
    { config: read, schema: { ...hide, querystring: FindingQuery } },
    async (req, reply) => {
      const q = req.query;
      const status = q.status ?? "open";
      const limit = q.limit ?? 500;
      const [findings, facets] = await Promise.all([
        listFindings(ctx.store, {
          severity: q.severity,
          source: q.source || undefined,
          layer: q.layer || undefined,
          arch: q.arch || undefined,
          target: q.target || undefined,
          open: status === "all" ? undefined : status === "open",
          limit,
        }),
        findingFacets(ctx),
      ]);
      return html(
        reply,
        <FindingsPage
          ctx={pageContext(req, ctx)}
          findings={findings}
          filter={{
            severity: q.severity ?? [],
            source: q.source || undefined,
            layer: q.layer || undefined,
            arch: q.arch || undefined,
            status,
            limit,
          }}
          severities={facets.severities}
          sources={facets.sources}
          layers={facets.layers}
        />,
      );
    },
  );

  app.get("/runs", { config: read, schema: { ...hide, querystring: RunQuery } }, async (req, reply) =>
    html(
      reply,
      <RunsPage
        ctx={pageContext(req, ctx)}
        runs={
          await listRuns(ctx.store, {
            state: req.query.state || undefined,
            layer: req.query.layer || undefined,
            limit: req.query.limit ?? 200,
          })
        }
      />,
    ),
  );

  app.get("/runs/:id", { config: read, schema: { ...hide, params: IdParams } }, async (req, reply) => {
    const run = await getRun(ctx.store, req.params.id);
    if (!run) throw new NotFoundError(`no run ${req.params.id}`);
    const file = await logFileOf(ctx.site.stateDir, run);
    const log = "missing" in file ? file : await logTail(file.path);
    return html(reply, <RunPage ctx={pageContext(req, ctx)} run={run} log={log} />);
  });

  app.get("/runs/:id/log", { config: read, schema: { ...hide, params: IdParams } }, async (req, reply) =>
    streamLog(ctx, req.params.id, req, reply),
  );

  app.get("/audit", { config: read, schema: { ...hide, querystring: AuditQuery } }, async (req, reply) => {
    const entries = (
      await listAudit(ctx.store, {
        subject: req.query.subject || undefined,
        before: req.query.before,
        limit: req.query.limit ?? 100,
      })
    ).reverse();
    return html(
      reply,
      <AuditPage
        ctx={pageContext(req, ctx)}
        entries={entries}
        before={req.query.before}
        subject={req.query.subject || undefined}
      />,
    );
  });

  // logging in and out
  app.get("/login", { config: { permission: "public", page: true }, schema: hide }, async (req, reply) => {
    if (req.auth) return reply.redirect("/", 303);
    return renderLogin(ctx, req, reply, 200, undefined);
  });
  app.post(
    "/login",
    { config: { permission: "public", page: true }, schema: { ...hide, body: LoginBody } },
    async (req, reply) => {
      const b = req.body;
      const cookie = req.cookies[LOGIN_COOKIE];
      if (!cookie || !b._csrf || !sameSecret(cookie, b._csrf))
        return renderLogin(ctx, req, reply, 403, "the login form expired: try again");
      const keys = [`ip:${req.ip}`, ...(b.user ? [`user:${b.user}`] : [])];
      if (ctx.loginThrottle.blocked(keys))
        return renderLogin(ctx, req, reply, 429, "too many failed logins: wait a quarter of an hour");
      let found: Awaited<ReturnType<typeof authenticateToken>>;
      let via: "token" | "password";
      if (b.token) {
        found = await authenticateToken(ctx.store, b.token.trim());
        via = "token";
      } else {
        found = b.user && b.password ? await authenticatePassword(ctx.store, b.user, b.password) : undefined;
        via = "password";
      }
      if (!found) {
        ctx.loginThrottle.failed(keys);
        req.log.warn({ user: b.user ?? null, via }, "login refused");
        return renderLogin(ctx, req, reply, 401, "wrong user and password, or a token that is not valid");
      }
      const s = await startSession(ctx.store, found, ctx.sessionTtlMs, via);
      setSessionCookie(reply, s.id, s.expiresAt, { secure: ctx.secureCookies });
      reply.clearCookie(LOGIN_COOKIE, { path: "/login" });
      return reply.redirect(safeNext(b.next), 303);
    },
  );
  app.post("/logout", { config: read, schema: { ...hide, body: EmptyBody } }, async (req, reply) => {
    const a = req.auth!;
    if (a.via === "session") await endSession(ctx.store, a.sessionIdSha256, a.user.name);
    clearSessionCookie(reply, { secure: ctx.secureCookies });
    return reply.redirect("/login", 303);
  });

  // forms that act
  const toRun = (reply: FastifyReply, id: number) => reply.redirect(`/runs/${id}`, 303);
  if (ctx.actions.has("update"))
    app.post(
      "/layers/:layer/update",
      {
        config: { permission: "update.start", page: true },
        schema: { ...hide, params: LayerParams, body: UpdateForm },
      },
      async (req, reply) => {
        const job = await startUpdate(ctx, user(req), {
          layer: req.params.layer,
          arch: req.body.arch,
          from: req.body.from,
          reason: req.body.reason || undefined,
        });
        return toRun(reply, job.run.id);
      },
    );
  for (const kind of (["approve", "reject"] as const).filter((k) => ctx.actions.has(k)))
    app.post(
      `/candidates/:id/${kind}`,
      {
        config: { permission: `candidate.${kind}`, page: true },
        schema: { ...hide, params: IdParams, body: VerdictBody },
      },
      async (req, reply) => {
        await verdict(ctx, user(req), req.params.id, kind, req.body.reason || undefined);
        return reply.redirect(
          `/candidates/${req.params.id}?done=${kind === "approve" ? "approved" : "rejected"}`,
          303,
        );
      },
    );
  if (ctx.actions.has("promote"))
    app.post(
      "/candidates/:id/promote",
      {
        config: { permission: "candidate.promote", page: true },
        schema: { ...hide, params: IdParams, body: PromoteBody },
      },
      async (req, reply) =>
        toRun(reply, (await promote(ctx, user(req), req.params.id, req.body.target)).run.id),
    );
  if (ctx.actions.has("rollback"))
    app.post(
      "/targets/:target/rollback",
      {
        config: { permission: "target.rollback", page: true },
        schema: { ...hide, params: TargetParams, body: RollbackBody },
      },
      async (req, reply) =>
        toRun(reply, (await rollback(ctx, user(req), req.params.target, req.body.layer)).run.id),
    );
  if (ctx.actions.has("watch"))
    app.post(
      "/watch",
      { config: { permission: "watch.run", page: true }, schema: { ...hide, body: EmptyBody } },
      async (req, reply) => toRun(reply, (await runWatch(ctx, user(req).name)).run.id),
    );

  // accounts
  const manage = { permission: "users.manage" as const, page: true };
  app.get("/users", { config: manage, schema: { ...hide, querystring: Done } }, async (req, reply) =>
    html(
      reply,
      <UsersPage
        ctx={pageContext(req, ctx)}
        users={await listUsers(ctx.store)}
        tokens={await listApiTokens(ctx.store)}
        flash={req.query.done === "revoked" ? { kind: "ok", text: DONE.revoked! } : undefined}
      />,
    ),
  );
  app.post("/users", { config: manage, schema: { ...hide, body: NewUserBody } }, async (req, reply) => {
    const b = req.body;
    const r = await addUser(
      ctx.store,
      { name: b.name, roles: b.roles, password: b.password || undefined },
      user(req).name,
    );
    return html(
      reply,
      <TokenShownPage
        ctx={pageContext(req, ctx)}
        user={r.user.name}
        token={r.token.token}
        id={r.token.record.id}
      />,
      201,
    );
  });
  app.post(
    "/users/:name/revoke",
    { config: manage, schema: { ...hide, params: UserParams, body: EmptyBody } },
    async (req, reply) => {
      await disableUser(ctx.store, req.params.name, user(req).name);
      return reply.redirect("/users?done=revoked", 303);
    },
  );
  app.post(
    "/users/:name/tokens",
    { config: manage, schema: { ...hide, params: UserParams, body: NewTokenBody } },
    async (req, reply) => {
      const t = await issueToken(ctx.store, req.params.name, { label: req.body.label }, user(req).name);
      return html(
        reply,
        <TokenShownPage
          ctx={pageContext(req, ctx)}
          user={req.params.name}
          token={t.token}
          id={t.record.id}
        />,
        201,
      );
    },
  );
  app.post(
    "/tokens/:id/revoke",
    { config: manage, schema: { ...hide, params: IdParams, body: EmptyBody } },
    async (req, reply) => {
      await revokeApiToken(ctx.store, req.params.id, user(req).name);
      return reply.redirect("/users?done=revoked", 303);
    },
  );
}

/** The values the findings filters offer: what the store holds. */
async function findingFacets(ctx: ServerContext) {
  const [sev, src, lay] = await Promise.all([
    ctx.store.db.selectFrom("findings").select("severity").distinct().execute(),
    ctx.store.db.selectFrom("findings").select("source").distinct().orderBy("source").execute(),
    ctx.store.db.selectFrom("findings").select("layer").distinct().orderBy("layer").execute(),
  ]);
  return {
    severities: severityOrder(sev.map((r) => r.severity)),
    sources: src.map((r) => r.source),
    layers: lay.map((r) => r.layer),
  };
}
