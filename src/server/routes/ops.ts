/** Public routes for operations: /healthz, /metrics, /openapi.json, and the stylesheet. */
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import { log } from "../../log.js";
import type { ServerContext } from "../context.js";
import { STYLE } from "../views/style.js";

export function registerOps(app: FastifyInstance, ctx: ServerContext): void {
  const pub = { permission: "public" as const };
  app.get(
    "/healthz",
    {
      config: pub,
      schema: {
        summary: "Liveness and the store's reachability (503 when the store cannot be reached)",
        tags: ["operations"],
        security: [],
      },
    },
    async (_req, reply) => {
      try {
        await sql`select 1`.execute(ctx.store.db);
      } catch (e) {
        ctx.metrics.storeUnavailable.inc();
        log.error(`healthz: the store ${ctx.store.description} cannot be reached: ${(e as Error).message}`);
        return reply.code(503).send({ status: "store-unavailable", store: ctx.store.description });
      }
      return {
        status: "ok",
        store: ctx.store.description,
        backend: ctx.store.backend.name,
        jobs: ctx.jobs.running().length,
      };
    },
  );
  app.get(
    "/metrics",
    { config: pub, schema: { summary: "Prometheus metrics", tags: ["operations"], security: [] } },
    async (_req, reply) => {
      const text = await ctx.metrics.registry.metrics();
      return reply.type(ctx.metrics.registry.contentType).send(text);
    },
  );
  app.get("/openapi.json", { config: pub, schema: { hide: true } }, async () => app.swagger());
  app.get("/static/style.css", { config: pub, schema: { hide: true } }, async (_req, reply) =>
    reply.type("text/css; charset=utf-8").header("cache-control", "public, max-age=3600").send(STYLE),
  );
}
