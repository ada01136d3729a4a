/**
 * The JSON API under /api/v1: everything the pages show and do. Reads return the read model's
 * objects; actions start jobs (202 with the run, whose log is at /api/v1/runs/ID/log) or, for a
 * verdict, answer with the command's result. Documented at /openapi.json from these schemas.
 */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { addUser, issueToken } from "../../accounts/index.js";
import { disableUser, listApiTokens, listUsers, revokeApiToken } from "../../store/accounts.js";
import { listAudit } from "../../store/audit.js";
import { listCandidates } from "../../store/candidates.js";
import { listFindings } from "../../store/findings.js";
import { getRun, listRuns } from "../../store/runs.js";
import { NotFoundError, promote, rollback, runWatch, startUpdate, verdict } from "../actions.js";
import { candidateOf, dashboardOf, layerOf, sendJson } from "../cached-reads.js";
import type { ServerContext } from "../context.js";
import type { Job } from "../jobs.js";
import { followLog, logFileOf } from "../run-log.js";
import {
  AuditQuery,
  CandidateQuery,
  EmptyBody,
  FindingQuery,
  IdParams,
  LayerParams,
  NewTokenBody,
  NewUserBody,
  PromoteBody,
  RollbackBody,
  RunQuery,
  TargetParams,
  UpdateBody,
  UserParams,
  VerdictBody,
} from "./schemas.js";

export const user = (req: FastifyRequest) => req.auth!.user;

export function jobAccepted(reply: FastifyReply, job: Job) {
  return reply
    .code(202)
    .header("location", `/api/v1/runs/${job.run.id}`)
    .send({ run: job.run, log: `/api/v1/runs/${job.run.id}/log`, page: `/runs/${job.run.id}` });
}

const expiresAt = (days: number | undefined) =>
  days === undefined ? undefined : new Date(Date.now() + days * 86_400_000).toISOString();

export function registerApi(root: FastifyInstance, ctx: ServerContext): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const read = { permission: "read" as const };
  const tags = (t: string) => [t];

  app.get(
    "/api/v1/me",
    { config: read, schema: { summary: "Who you are and your roles", tags: tags("accounts") } },
    async (req) => ({
      user: user(req),
      via: req.auth!.via,
      csrf: req.auth!.via === "session" ? req.auth!.csrf : null,
    }),
  );

  app.get(
    "/api/v1/dashboard",
    {
      config: read,
      schema: {
        summary: "Every layer × arch: what each target holds, open findings, the pending candidate",
        tags: tags("layers"),
      },
    },
    async (req, reply) =>
      sendJson(ctx, req, reply, () => dashboardOf(ctx, req), { per: String(Math.floor(Date.now() / 1000)) }),
  );

  app.get(
    "/api/v1/layers/:layer",
    {
      config: read,
      schema: {
        summary: "A layer: publications, candidates, findings over time",
        tags: tags("layers"),
        params: LayerParams,
      },
    },
    async (req, reply) =>
      sendJson(ctx, req, reply, () => layerOf(ctx, req, req.params.layer), {
        missing: `no layer ${req.params.layer}`,
      }),
  );

  app.get(
    "/api/v1/candidates",
    {
      config: read,
      schema: { summary: "Candidates, newest first", tags: tags("candidates"), querystring: CandidateQuery },
    },
    async (req, reply) =>
      sendJson(ctx, req, reply, async () => ({
        candidates: await listCandidates(ctx.store, {
          state: req.query.state ? [req.query.state] : undefined,
          layer: req.query.layer || undefined,
          arch: req.query.arch || undefined,
          limit: req.query.limit ?? 100,
        }),
      })),
  );

  app.get(
    "/api/v1/candidates/:id",
    {
      config: read,
      schema: {
        summary: "A candidate with its gates, approvals, artifacts and publications",
        tags: tags("candidates"),
        params: IdParams,
      },
    },
    async (req, reply) =>
      sendJson(ctx, req, reply, () => candidateOf(ctx, req, req.params.id), {
        missing: `no candidate ${req.params.id}`,
      }),
  );

  app.get(
    "/api/v1/findings",
    {
      config: read,
      schema: {
        summary: "Findings (default: open ones), newest first",
        tags: tags("findings"),
        querystring: FindingQuery,
      },
    },
    async (req, reply) => {
      const q = req.query;
      const status = q.status ?? "open";
      return sendJson(ctx, req, reply, async () => ({
        findings: await listFindings(ctx.store, {
          severity: q.severity,
          source: q.source || undefined,
          layer: q.layer || undefined,
          arch: q.arch || undefined,
          target: q.target || undefined,
          open: status === "all" ? undefined : status === "open",
          limit: q.limit ?? 500,
        }),
      }));
    },
  );

  app.get(
    "/api/v1/runs",
    {
      config: read,
      schema: {
        summary: "Runs (builds, updates, gates, jobs …), newest first",
        tags: tags("runs"),
        querystring: RunQuery,
      },
    },
    async (req, reply) =>
      sendJson(ctx, req, reply, async () => ({
        runs: await listRuns(ctx.store, {
          state: req.query.state || undefined,
          layer: req.query.layer || undefined,
          limit: req.query.limit ?? 100,
        }),
      })),
  );

  app.get(
    "/api/v1/runs/:id",
    { config: read, schema: { summary: "A run", tags: tags("runs"), params: IdParams } },
    async (req, reply) =>
      sendJson(ctx, req, reply, () => getRun(ctx.store, req.params.id), {
        missing: `no run ${req.params.id}`,
      }),
  );

  app.get(
    "/api/v1/runs/:id/log",
    {
      config: read,
      schema: {
        summary: "A run's log as plain text, streamed as it grows until the run ends",
        tags: tags("runs"),
        params: IdParams,
      },
    },
    async (req, reply) => streamLog(ctx, req.params.id, req, reply),
  );

  app.get(
    "/api/v1/audit",
    {
      config: read,
      schema: { summary: "The audit log, newest first", tags: tags("audit"), querystring: AuditQuery },
    },
    async (req, reply) =>
      sendJson(ctx, req, reply, async () => ({
        entries: (
          await listAudit(ctx.store, {
            subject: req.query.subject || undefined,
            before: req.query.before,
            limit: req.query.limit ?? 100,
          })
        ).reverse(),
      })),
  );

  // actions
  if (ctx.actions.has("update"))
    app.post(
      "/api/v1/updates",
      {
        config: { permission: "update.start" },
        schema: {
          summary: "Start an update of a layer (compat update): 202 with its run",
          tags: tags("actions"),
          body: UpdateBody,
        },
      },
      async (req, reply) => jobAccepted(reply, await startUpdate(ctx, user(req), req.body)),
    );
  if (ctx.actions.has("approve"))
    app.post(
      "/api/v1/candidates/:id/approve",
      {
        config: { permission: "candidate.approve" },
        schema: {
          summary:
            "Approve a candidate (compat approve, signed with your approver key); the policy is the core's",
          tags: tags("actions"),
          params: IdParams,
          body: VerdictBody,
        },
      },
      async (req) => verdict(ctx, user(req), req.params.id, "approve", req.body.reason || undefined),
    );
  if (ctx.actions.has("reject"))
    app.post(
      "/api/v1/candidates/:id/reject",
      {
        config: { permission: "candidate.reject" },
        schema: {
          summary: "Reject a candidate (compat reject): a reason is required",
          tags: tags("actions"),
          params: IdParams,
          body: VerdictBody,
        },
      },
      async (req) => verdict(ctx, user(req), req.params.id, "reject", req.body.reason || undefined),
    );
  if (ctx.actions.has("promote"))
    app.post(
      "/api/v1/candidates/:id/promote",
      {
        config: { permission: "candidate.promote" },
        schema: {
          summary: "Promote a candidate to a target (compat promote): 202 with its run",
          tags: tags("actions"),
          params: IdParams,
          body: PromoteBody,
        },
      },
      async (req, reply) => jobAccepted(reply, await promote(ctx, user(req), req.params.id, req.body.target)),
    );
  if (ctx.actions.has("rollback"))
    app.post(
      "/api/v1/targets/:target/rollback",
      {
        config: { permission: "target.rollback" },
        schema: {
          summary: "Roll a target's layer back to what it held before (compat rollback): 202 with its run",
          tags: tags("actions"),
          params: TargetParams,
          body: RollbackBody,
        },
      },
      async (req, reply) =>
        jobAccepted(reply, await rollback(ctx, user(req), req.params.target, req.body.layer)),
    );
  if (ctx.actions.has("watch"))
    app.post(
      "/api/v1/watch",
      {
        config: { permission: "watch.run" },
        schema: {
          summary: "Run a watch now (compat watch --once): 202 with its run",
          tags: tags("actions"),
          body: EmptyBody,
        },
      },
      async (req, reply) => jobAccepted(reply, await runWatch(ctx, user(req).name)),
    );

  // accounts
  const manage = { permission: "users.manage" as const };
  app.get(
    "/api/v1/users",
    { config: manage, schema: { summary: "Users and their tokens", tags: tags("accounts") } },
    async () => ({
      users: await listUsers(ctx.store),
      tokens: await listApiTokens(ctx.store),
    }),
  );
  app.post(
    "/api/v1/users",
    {
      config: manage,
      schema: {
        summary: "Add a user: their first token is in the answer, once",
        tags: tags("accounts"),
        body: NewUserBody,
      },
    },
    async (req, reply) => {
      const b = req.body;
      const r = await addUser(
        ctx.store,
        {
          name: b.name,
          roles: b.roles,
          password: b.password || undefined,
          tokenExpiresAt: expiresAt(b.expiresDays),
        },
        user(req).name,
      );
      return reply.code(201).send({ user: r.user, token: r.token.token, tokenId: r.token.record.id });
    },
  );
  app.post(
    "/api/v1/users/:name/revoke",
    {
      config: manage,
      schema: {
        summary: "Revoke a user: every token and session at once",
        tags: tags("accounts"),
        params: UserParams,
        body: EmptyBody,
      },
    },
    async (req) => ({ user: await disableUser(ctx.store, req.params.name, user(req).name) }),
  );
  app.post(
    "/api/v1/users/:name/tokens",
    {
      config: manage,
      schema: {
        summary: "Give a user another token (in the answer, once)",
        tags: tags("accounts"),
        params: UserParams,
        body: NewTokenBody,
      },
    },
    async (req, reply) => {
      const t = await issueToken(
        ctx.store,
        req.params.name,
        { label: req.body.label, expiresAt: expiresAt(req.body.expiresDays) },
        user(req).name,
      );
      return reply.code(201).send({ tokenId: t.record.id, token: t.token, expiresAt: t.record.expiresAt });
    },
  );
  app.post(
    "/api/v1/tokens/:id/revoke",
    {
      config: manage,
      schema: { summary: "Revoke one token", tags: tags("accounts"), params: IdParams, body: EmptyBody },
    },
    async (req) => ({ token: await revokeApiToken(ctx.store, req.params.id, user(req).name) }),
  );
}

/** The run's log file, streamed while the run is running; 404 for a run or a log that is not there. */
export async function streamLog(ctx: ServerContext, id: number, req: FastifyRequest, reply: FastifyReply) {
  const run = await getRun(ctx.store, id);
  if (!run) throw new NotFoundError(`no run ${id}`);
  const file = await logFileOf(ctx.site.stateDir, run);
  if ("missing" in file) throw new NotFoundError(`run ${id}: ${file.missing}`);
  const abort = new AbortController();
  req.raw.on("close", () => abort.abort());
  ctx.shutdown.addEventListener("abort", () => abort.abort(), { once: true });
  const running = async () => (await getRun(ctx.store, id))?.state === "running";
  return reply
    .type("text/plain; charset=utf-8")
    .header("x-content-type-options", "nosniff")
    .header("cache-control", "no-store")
    .send(followLog(file.path, running, abort.signal));
}
