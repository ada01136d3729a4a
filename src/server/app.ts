/**
 * The HTTP server: fastify over the store. Every route declares the permission it needs (or that
 * it is public); one hook resolves who asks and refuses with 401 (nobody, or a credential that is
 * not valid) or 403 (not allowed) before the body is read, and one checks the CSRF token of a
 * session's state change. Errors become JSON for the API and a page for the browser; a store that
 * cannot be reached is a 503 and a log line, and the next request tries again.
 */
import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { allows, PERMISSIONS, type Permission } from "../accounts/roles.js";
import { CompatError } from "../errors.js";
import { log } from "../log.js";
import { LeaseHeldError, NotInStoreError, StoreError } from "../store/errors.js";
import { JobFailedError, NotFoundError } from "./actions.js";
import { type Auth, changesState, csrfValid, identify } from "./auth.js";
import { credentialLookup } from "./cached-reads.js";
import type { ServerContext } from "./context.js";
import { JobBusyError } from "./jobs.js";
import { registerApi } from "./routes/api.js";
import { registerOps } from "./routes/ops.js";
import { registerPages, renderError, renderLogin } from "./routes/pages.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** What a caller needs: a permission of the roles table, or public. */
    permission?: Permission | "public";
    /** A page for browsers (errors as HTML) rather than the JSON API. */
    page?: boolean;
  }
  interface FastifyRequest {
    auth: Auth | null;
  }
}

export type { ServerContext };

export interface AppOptions {
  /** fastify's logger: JSON lines (pino), one per request. */
  logger?: boolean | { level: string; stream?: NodeJS.WritableStream };
  /** Trust X-Forwarded-* from a reverse proxy in front. */
  trustProxy?: boolean;
  https?: { key: Buffer; cert: Buffer };
  /** Largest request body (default 64 KiB: forms and small JSON only). */
  bodyLimit?: number;
  /** Told every route as it is added (the authorisation test walks them all). */
  onRoute?: (route: { method: string; url: string; permission: Permission | "public" | undefined }) => void;
}

export async function buildApp(ctx: ServerContext, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    trustProxy: opts.trustProxy ?? false,
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    ...(opts.https ? { https: opts.https } : {}),
    // an unknown property in a body is refused, not silently dropped
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
    return503OnClosing: true,
    forceCloseConnections: "idle",
  }) as unknown as FastifyInstance;
  app.decorateRequest("auth", null);
  app.decorateRequest("storeRevision", null);
  if (opts.onRoute) {
    const tell = opts.onRoute;
    app.addHook("onRoute", (r) => {
      for (const method of [r.method].flat())
        tell({
          method,
          url: r.url,
          permission: (r.config as { permission?: Permission | "public" } | undefined)?.permission,
        });
    });
  }
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: opts.bodyLimit ?? 64 * 1024 });
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "compat serve",
        version: "1",
        description:
          "The control plane of compat: layers, candidates, findings, runs and the audit log; start updates, approve, reject, promote, roll back, run a watch. Authenticate with 'Authorization: Bearer TOKEN' (compat user add / compat user token).",
      },
      components: { securitySchemes: { token: { type: "http", scheme: "bearer" } } },
      security: [{ token: [] }],
    },
  });

  app.addHook("onRequest", async (req, reply) => {
    const cfg = req.routeOptions.config;
    const permission = cfg?.permission;
    if (permission === undefined) return; // no route: the 404 handler answers
    const who = await identify(ctx.store, req, credentialLookup(ctx, req));
    req.auth = who.auth;
    if (permission === "public") return;
    if (!who.auth)
      return refuse(req, reply, 401, who.refused ?? "log in first, or send 'Authorization: Bearer TOKEN'");
    if (!allows(who.auth.user.roles, permission))
      return refuse(
        req,
        reply,
        403,
        `${who.auth.user.name} (${who.auth.user.roles.join(", ")}) may not do this: it needs ${permission}, which ${rolesFor(permission)} have`,
      );
  });
  app.addHook("preHandler", async (req, reply) => {
    const cfg = req.routeOptions.config;
    if (cfg?.permission === undefined || cfg.permission === "public") return;
    if (req.auth && changesState(req.method) && !csrfValid(req.auth, req))
      return refuse(
        req,
        reply,
        403,
        "the form's CSRF token is missing or wrong: reload the page and try again",
      );
  });
  app.addHook("onResponse", async (req, reply) => {
    ctx.metrics.requestDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? "unknown", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler(async (error: FastifyError | Error, req, reply) => {
    const { status, code, message, details } = classify(ctx, error);
    if (status >= 500) {
      if (status === 503) ctx.metrics.storeUnavailable.inc();
      const line = `${req.method} ${req.url.split("?")[0]}: ${status === 503 ? message : `${message}: ${error.stack ?? error.message}`}`;
      // JSON lines with --log-requests; otherwise the one logger's line on stderr
      if (opts.logger) req.log.error({ err: error }, line);
      else log.error(line);
    }
    return send(req, reply, status, code, message, details);
  });
  app.setNotFoundHandler(async (req, reply) =>
    send(req, reply, 404, "not-found", `nothing at ${req.method} ${req.url.split("?")[0]}`),
  );

  registerOps(app, ctx);
  registerApi(app, ctx);
  registerPages(app, ctx);
  return app;

  async function refuse(req: FastifyRequest, reply: FastifyReply, status: 401 | 403, message: string) {
    if (status === 401 && req.routeOptions.config?.page && req.method === "GET")
      return renderLogin(ctx, req, reply, 401, undefined);
    return send(req, reply, status, status === 401 ? "unauthenticated" : "forbidden", message);
  }

  function send(
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    code: string,
    message: string,
    details: string[] = [],
  ) {
    reply.code(status);
    if (status === 401) reply.header("www-authenticate", 'Bearer realm="compat"');
    if (wantsHtml(req)) return renderError(ctx, req, reply, status, message, details);
    return reply.send({ error: code, message, ...(details.length > 0 ? { details } : {}) });
  }
}

function wantsHtml(req: FastifyRequest): boolean {
  if (req.routeOptions.config?.page) return true;
  if (req.url.startsWith("/api/")) return false;
  return (req.headers.accept ?? "").includes("text/html");
}

const rolesFor = (p: Permission) => PERMISSIONS[p].join(", ");

interface Classified {
  status: number;
  code: string;
  message: string;
  details?: string[];
}

/** An error as an HTTP answer: what was wrong and what status says so. */
function classify(ctx: ServerContext, e: FastifyError | Error): Classified {
  const fe = e as FastifyError;
  if (fe.validation) return { status: 400, code: "bad-request", message: `invalid request: ${fe.message}` };
  if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE")
    return { status: 413, code: "too-large", message: fe.message };
  if (fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || fe.code === "FST_ERR_CTP_INVALID_CONTENT_LENGTH")
    return { status: fe.statusCode ?? 415, code: "bad-request", message: fe.message };
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500)
    return { status: fe.statusCode, code: "bad-request", message: fe.message };
  if (e instanceof NotFoundError || e instanceof NotInStoreError)
    return { status: 404, code: "not-found", message: e.message };
  if (e instanceof JobBusyError || e instanceof LeaseHeldError)
    return { status: 409, code: "busy", message: e.message };
  if (e instanceof StoreError || ctx.store.backend.isUnavailable(e))
    return {
      status: 503,
      code: "store-unavailable",
      message: `the store ${ctx.store.description} cannot be reached: ${e.message}`,
    };
  if (e instanceof JobFailedError) {
    const status = e.kind === "input" ? 400 : e.kind === "check" ? 409 : e.kind === "tool" ? 502 : 500;
    return { status, code: "job-failed", message: e.message, details: e.details };
  }
  if (e instanceof CompatError) {
    const status = e.kind === "input" ? 400 : e.kind === "check" ? 409 : e.kind === "tool" ? 502 : 500;
    return {
      status,
      code: e.kind === "check" ? "refused" : e.kind === "input" ? "bad-request" : "failed",
      message: e.message,
      details: [...e.details, ...(e.hint ? [`hint: ${e.hint}`] : [])],
    };
  }
  return { status: 500, code: "internal", message: "internal error (logged on the server)" };
}
