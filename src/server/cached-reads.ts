/**
 * The requests' side of the read cache: one store revision per request (read when it first needs
 * one), credentials looked up once per revision, and API answers serialised once per revision and
 * URL. Only what is the same for every caller is kept as an answer; who may see it is decided per
 * request, before (the permission hook), and whether a token or session may still be used is
 * decided per request too (its expiry is a matter of time, not of the store).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { CredentialLookup } from "../accounts/index.js";
import { findSession, findToken } from "../store/accounts.js";
import { NotFoundError } from "./actions.js";
import type { ServerContext } from "./context.js";
import {
  type CandidateView,
  candidateView,
  currentDashboard,
  type Dashboard,
  type LayerView,
  layerView,
} from "./read-model.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The store's revision as this request first read it. */
    storeRevision: Promise<string> | null;
  }
}

/** The store's revision for this request: read once, on first use. */
export function revisionOf(ctx: ServerContext, req: FastifyRequest): Promise<string> {
  req.storeRevision ??= ctx.reads.revision();
  return req.storeRevision;
}

/** Only what exists is kept: made-up tokens, sessions and ids must not push out what is used. */
const known = (v: unknown): boolean => v !== undefined;

/** Token and session lookups kept per store revision (a revocation is a write: the next request reads again). */
export function credentialLookup(ctx: ServerContext, req: FastifyRequest): CredentialLookup {
  return {
    token: async (sha256) =>
      ctx.reads.get(await revisionOf(ctx, req), `token\0${sha256}`, () => findToken(ctx.store, sha256), {
        keep: known,
      }),
    session: async (sha256) =>
      ctx.reads.get(await revisionOf(ctx, req), `session\0${sha256}`, () => findSession(ctx.store, sha256), {
        keep: known,
      }),
  };
}

/**
 * Answer a read with JSON kept per store revision and URL (the query string validated by the
 * route's schema): serialised once while nothing changes. `compute` answering undefined is a 404
 * with `missing` as its message. `per` adds what else the answer depends on (the second, for ages).
 */
export async function sendJson(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  compute: () => Promise<unknown>,
  opts: { missing?: string; per?: string } = {},
): Promise<FastifyReply> {
  const key = `json\0${req.url}\0${opts.per ?? ""}`;
  const body = await ctx.reads.get(
    await revisionOf(ctx, req),
    key,
    async () => {
      const v = await compute();
      return v === undefined ? undefined : JSON.stringify(v);
    },
    { bytes: (b) => b?.length ?? 0, keep: known },
  );
  if (body === undefined) throw new NotFoundError(opts.missing ?? `nothing at ${req.url.split("?")[0]}`);
  return reply.type("application/json; charset=utf-8").send(body);
}

/** The dashboard at this request's revision (the same object within a second: ages are whole seconds). */
export async function dashboardOf(ctx: ServerContext, req: FastifyRequest): Promise<Dashboard> {
  return currentDashboard(ctx, await revisionOf(ctx, req));
}

/** A layer's view at this request's revision (its findings over time by whole UTC days). */
export async function layerOf(
  ctx: ServerContext,
  req: FastifyRequest,
  name: string,
): Promise<LayerView | undefined> {
  const today = new Date().toISOString().slice(0, 10);
  return ctx.reads.get(
    await revisionOf(ctx, req),
    `layer\0${name}\0${today}`,
    () => layerView(ctx.store, name, ctx.siteLayers, { now: new Date(`${today}T00:00:00Z`) }),
    { keep: known },
  );
}

export async function candidateOf(
  ctx: ServerContext,
  req: FastifyRequest,
  id: number,
): Promise<CandidateView | undefined> {
  return ctx.reads.get(await revisionOf(ctx, req), `candidate\0${id}`, () => candidateView(ctx.store, id), {
    keep: known,
  });
}
