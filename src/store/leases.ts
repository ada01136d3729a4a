/**
 * Leases: a job or resource (e.g. `update:<layer>:<arch>`) that one process holds at a time, on
 * one machine or several sharing a PostgreSQL store. A lease ends when its holder releases it,
 * when it expires (the holder renews it while it works), or at once when its holder ran on this
 * host and its process is gone. Taking one is a locked read-then-write, so two processes asking
 * at the same moment cannot both get it.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Selectable } from "kysely";
import { processStart } from "../pipeline/lock.js";
import { currentUser } from "./actor.js";
import { LeaseHeldError } from "./errors.js";
import type { LeasesTable } from "./schema.js";
import type { Store } from "./store.js";

export interface Lease {
  name: string;
  token: string;
  owner: string;
  host: string;
  pid: number;
  purpose: string;
  acquiredAt: string;
  expiresAt: string;
}

export interface LeaseRequest {
  /** What the holder does, for the message another process gets (e.g. "compat update dev --arch x86_64"). */
  purpose: string;
  /** How long the lease lasts without renewal (default 5 minutes). */
  ttlMs?: number;
  /** Who holds it (default: the OS user). */
  owner?: string;
}

const DEFAULT_TTL_MS = 5 * 60_000;

/** Take the lease if it is free (or stale); otherwise return who holds it. */
export async function tryTakeLease(
  store: Store,
  name: string,
  request: LeaseRequest,
): Promise<{ lease: Lease } | { heldBy: Lease }> {
  return store.transaction(async (tx) => {
    await tx.lock(`lease:${name}`);
    const now = Date.now();
    const old = await tx.db.selectFrom("leases").selectAll().where("name", "=", name).executeTakeFirst();
    if (old && holderAlive(old, now)) return { heldBy: toLease(old) };
    const row: LeasesTable = {
      name,
      token: randomBytes(16).toString("hex"),
      owner: request.owner ?? currentUser(),
      host: hostname(),
      pid: process.pid,
      pid_start: processStart(process.pid) ?? null,
      purpose: request.purpose,
      acquired_at: new Date(now).toISOString(),
      expires_at: new Date(now + (request.ttlMs ?? DEFAULT_TTL_MS)).toISOString(),
    };
    if (old) await tx.db.deleteFrom("leases").where("name", "=", name).execute();
    await tx.db.insertInto("leases").values(row).execute();
    return { lease: toLease(row) };
  });
}

/**
 * Take the lease, waiting up to `waitMs` (default 0: refuse at once) for its holder to let go;
 * LeaseHeldError (exit 3) naming the holder when it does not.
 */
export async function takeLease(
  store: Store,
  name: string,
  request: LeaseRequest & { waitMs?: number; pollMs?: number },
): Promise<Lease> {
  const deadline = Date.now() + (request.waitMs ?? 0);
  for (;;) {
    const r = await tryTakeLease(store, name, request);
    if ("lease" in r) return r.lease;
    if (Date.now() >= deadline) {
      const h = r.heldBy;
      throw new LeaseHeldError(
        `${name} is held by ${h.owner} on ${h.host} (pid ${h.pid}, since ${h.acquiredAt}): ${h.purpose}`,
        { hint: "wait for it to finish, or stop that process; a lease whose holder died ends by itself" },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, request.pollMs ?? 500));
  }
}

/** Extend a lease this process holds; false when it was lost (expired and taken by another). */
export async function renewLease(store: Store, lease: Lease, ttlMs = DEFAULT_TTL_MS): Promise<boolean> {
  const renewed = await store.db
    .updateTable("leases")
    .set({ expires_at: new Date(Date.now() + ttlMs).toISOString() })
    .where("name", "=", lease.name)
    .where("token", "=", lease.token)
    .executeTakeFirst();
  return Number(renewed.numUpdatedRows) === 1;
}

/** Let go of a lease; a lease already lost is left to its new holder. */
export async function releaseLease(store: Store, lease: Lease): Promise<void> {
  await store.db
    .deleteFrom("leases")
    .where("name", "=", lease.name)
    .where("token", "=", lease.token)
    .execute();
}

/** Run `fn` holding the lease, renewing it every third of its time, and release it after. */
export async function withLease<T>(
  store: Store,
  name: string,
  request: LeaseRequest & { waitMs?: number },
  fn: (lease: Lease) => Promise<T>,
): Promise<T> {
  const ttl = request.ttlMs ?? DEFAULT_TTL_MS;
  const lease = await takeLease(store, name, request);
  const timer = setInterval(() => {
    renewLease(store, lease, ttl).catch(() => {});
  }, ttl / 3);
  timer.unref();
  try {
    return await fn(lease);
  } finally {
    clearInterval(timer);
    await releaseLease(store, lease);
  }
}

export async function listLeases(store: Store): Promise<Lease[]> {
  const rows = await store.db.selectFrom("leases").selectAll().orderBy("name").execute();
  return rows.map(toLease);
}

function holderAlive(row: Selectable<LeasesTable>, now: number): boolean {
  if (Date.parse(row.expires_at) <= now) return false;
  if (row.host !== hostname()) return true; // another machine: only its expiry can tell
  const start = processStart(row.pid);
  return start !== undefined && (row.pid_start === null || start === row.pid_start);
}

function toLease(row: Selectable<LeasesTable>): Lease {
  return {
    name: row.name,
    token: row.token,
    owner: row.owner,
    host: row.host,
    pid: row.pid,
    purpose: row.purpose,
    acquiredAt: row.acquired_at,
    expiresAt: row.expires_at,
  };
}
