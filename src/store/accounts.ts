/**
 * The accounts of `compat serve` (users, API tokens, browser sessions). Rows only: hashing and
 * roles are in src/accounts/. Every change is audited in the same transaction, with who did it.
 */
import type { Selectable } from "kysely";
import type { Role } from "../accounts/roles.js";
import { InputError, ValidationError } from "../errors.js";
import { appendAudit } from "./audit.js";
import { NotInStoreError } from "./errors.js";
import { fromJsonText, toJsonText } from "./json.js";
import type { ApiTokensTable, UsersTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export interface UserRecord {
  name: string;
  roles: Role[];
  hasPassword: boolean;
  /** Path of the approver's private key the server signs with, when the user approves. */
  approverKey: string | null;
  createdAt: string;
  createdBy: string;
  disabledAt: string | null;
}

export interface ApiTokenRecord {
  id: number;
  user: string;
  label: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface SessionRecord {
  user: string;
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
}

export interface NewUser {
  name: string;
  roles: Role[];
  passwordHash?: string;
  approverKey?: string;
}

export async function createUser(store: Store, u: NewUser, actor: string): Promise<UserRecord> {
  return store.transaction(async (tx) => {
    await tx.lock(`user:${u.name}`);
    const old = await tx.db.selectFrom("users").select("name").where("name", "=", u.name).executeTakeFirst();
    if (old)
      throw new InputError(`the user ${u.name} exists already`, {
        hint: `give them another token with compat user token ${u.name}, or choose another name`,
      });
    const row: UsersTable = {
      name: u.name,
      roles: toJsonText(u.roles),
      password_hash: u.passwordHash ?? null,
      approver_key: u.approverKey ?? null,
      created_at: isoNow(),
      created_by: actor,
      disabled_at: null,
    };
    await tx.db.insertInto("users").values(row).execute();
    await appendAudit(tx, {
      actor,
      action: "user.added",
      subject: `user:${u.name}`,
      detail: { roles: u.roles, password: u.passwordHash !== undefined, approverKey: u.approverKey ?? null },
    });
    return toUser(row);
  });
}

export async function getUser(store: Store, name: string): Promise<UserRecord | undefined> {
  const row = await store.db.selectFrom("users").selectAll().where("name", "=", name).executeTakeFirst();
  return row && toUser(row);
}

export async function requireUser(store: Store, name: string): Promise<UserRecord> {
  const u = await getUser(store, name);
  if (!u) throw new NotInStoreError(`no user ${name} in the store ${store.description}`);
  return u;
}

/** The stored password hash of an enabled user, for a login. */
export async function passwordHashOf(store: Store, name: string): Promise<string | undefined> {
  const row = await store.db
    .selectFrom("users")
    .select("password_hash")
    .where("name", "=", name)
    .where("disabled_at", "is", null)
    .executeTakeFirst();
  return row?.password_hash ?? undefined;
}

export async function listUsers(store: Store): Promise<UserRecord[]> {
  const rows = await store.db.selectFrom("users").selectAll().orderBy("name").execute();
  return rows.map(toUser);
}

/** Disable a user: every token and session of theirs stops working at once. */
export async function disableUser(store: Store, name: string, actor: string): Promise<UserRecord> {
  return store.transaction(async (tx) => {
    await tx.lock(`user:${name}`);
    const user = await requireUser(tx, name);
    if (user.disabledAt !== null) return user;
    const now = isoNow();
    await tx.db.updateTable("users").set({ disabled_at: now }).where("name", "=", name).execute();
    const tokens = await tx.db
      .updateTable("api_tokens")
      .set({ revoked_at: now })
      .where("user_name", "=", name)
      .where("revoked_at", "is", null)
      .returning("id")
      .execute();
    await tx.db
      .updateTable("sessions")
      .set({ revoked_at: now })
      .where("user_name", "=", name)
      .where("revoked_at", "is", null)
      .execute();
    await appendAudit(tx, {
      actor,
      action: "user.revoked",
      subject: `user:${name}`,
      detail: { tokens: tokens.map((t) => t.id) },
    });
    return { ...user, disabledAt: now };
  });
}

export async function addApiToken(
  store: Store,
  t: { user: string; tokenSha256: string; label?: string; expiresAt?: string },
  actor: string,
): Promise<ApiTokenRecord> {
  return store.transaction(async (tx) => {
    const user = await requireUser(tx, t.user);
    if (user.disabledAt !== null)
      throw new ValidationError(`the user ${t.user} was revoked on ${user.disabledAt}: no new token`);
    const row = await tx.db
      .insertInto("api_tokens")
      .values({
        user_name: t.user,
        token_sha256: t.tokenSha256,
        label: t.label ?? null,
        created_at: isoNow(),
        expires_at: t.expiresAt ?? null,
        revoked_at: null,
        last_used_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(tx, {
      actor,
      action: "token.issued",
      subject: `user:${t.user}`,
      detail: { token: row.id, label: row.label, expiresAt: row.expires_at },
    });
    return toToken(row);
  });
}

export async function listApiTokens(store: Store, user?: string): Promise<ApiTokenRecord[]> {
  let q = store.db.selectFrom("api_tokens").selectAll();
  if (user !== undefined) q = q.where("user_name", "=", user);
  const rows = await q.orderBy("id").execute();
  return rows.map(toToken);
}

/** Revoke one token (of `user`, when given); InputError when there is no such token. */
export async function revokeApiToken(
  store: Store,
  id: number,
  actor: string,
  user?: string,
): Promise<ApiTokenRecord> {
  return store.transaction(async (tx) => {
    let q = tx.db.selectFrom("api_tokens").selectAll().where("id", "=", id);
    if (user !== undefined) q = q.where("user_name", "=", user);
    const row = await q.executeTakeFirst();
    if (!row) throw new NotInStoreError(`no token ${id}${user === undefined ? "" : ` of ${user}`}`);
    if (row.revoked_at !== null) return toToken(row);
    const now = isoNow();
    const updated = await tx.db
      .updateTable("api_tokens")
      .set({ revoked_at: now })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(tx, {
      actor,
      action: "token.revoked",
      subject: `user:${row.user_name}`,
      detail: { token: id },
    });
    return toToken(updated);
  });
}

export interface TokenAndUser {
  token: ApiTokenRecord;
  user: UserRecord;
}

/** A token (by its sha256) and its user as stored, whatever their state: no check, no write. */
export async function findToken(store: Store, tokenSha256: string): Promise<TokenAndUser | undefined> {
  const row = await store.db
    .selectFrom("api_tokens")
    .innerJoin("users", "users.name", "api_tokens.user_name")
    .selectAll("api_tokens")
    .select(["users.roles", "users.password_hash", "users.approver_key", "users.disabled_at"])
    .select(["users.created_at as user_created_at", "users.created_by"])
    .where("api_tokens.token_sha256", "=", tokenSha256)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    token: toToken(row),
    user: toUser({
      name: row.user_name,
      roles: row.roles,
      password_hash: row.password_hash,
      approver_key: row.approver_key,
      created_at: row.user_created_at,
      created_by: row.created_by,
      disabled_at: row.disabled_at,
    }),
  };
}

/**
 * The user of a found token when the token is neither revoked nor expired at `now` and the user
 * is enabled; records its last use (at most once a minute, so reads stay reads).
 */
export async function useToken(
  store: Store,
  found: TokenAndUser | undefined,
  now = new Date(),
): Promise<TokenAndUser | undefined> {
  if (!found || found.token.revokedAt !== null || found.user.disabledAt !== null) return undefined;
  const nowIso = now.toISOString();
  if (found.token.expiresAt !== null && found.token.expiresAt <= nowIso) return undefined;
  const last = found.token.lastUsedAt;
  if (last === null || Date.parse(last) < now.getTime() - 60_000)
    await store.db
      .updateTable("api_tokens")
      .set({ last_used_at: nowIso })
      .where("id", "=", found.token.id)
      .execute();
  return found;
}

/** The enabled user a token (by its sha256) belongs to, when the token is neither revoked nor expired. */
export async function userOfToken(
  store: Store,
  tokenSha256: string,
  now = new Date(),
): Promise<TokenAndUser | undefined> {
  return useToken(store, await findToken(store, tokenSha256), now);
}

export async function createSession(
  store: Store,
  s: { idSha256: string; user: string; csrfToken: string; expiresAt: string; via: string },
): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.db
      .insertInto("sessions")
      .values({
        id_sha256: s.idSha256,
        user_name: s.user,
        csrf_token: s.csrfToken,
        created_at: isoNow(),
        expires_at: s.expiresAt,
        revoked_at: null,
      })
      .execute();
    await appendAudit(tx, {
      actor: s.user,
      action: "session.login",
      subject: `user:${s.user}`,
      detail: { via: s.via },
    });
  });
}

export interface SessionAndUser {
  user: UserRecord;
  session: SessionRecord;
  revokedAt: string | null;
}

/** A session (by the sha256 of its id) and its user as stored, whatever their state. */
export async function findSession(store: Store, idSha256: string): Promise<SessionAndUser | undefined> {
  const row = await store.db
    .selectFrom("sessions")
    .innerJoin("users", "users.name", "sessions.user_name")
    .selectAll("users")
    .select([
      "sessions.csrf_token",
      "sessions.created_at as session_created_at",
      "sessions.expires_at",
      "sessions.revoked_at",
    ])
    .where("sessions.id_sha256", "=", idSha256)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    user: toUser(row),
    session: {
      user: row.name,
      csrfToken: row.csrf_token,
      createdAt: row.session_created_at,
      expiresAt: row.expires_at,
    },
    revokedAt: row.revoked_at,
  };
}

/** A found session when it is neither revoked nor expired at `now` and its user is enabled. */
export function liveSession(
  found: SessionAndUser | undefined,
  now = new Date(),
): { user: UserRecord; session: SessionRecord } | undefined {
  if (!found || found.revokedAt !== null || found.user.disabledAt !== null) return undefined;
  if (found.session.expiresAt <= now.toISOString()) return undefined;
  return { user: found.user, session: found.session };
}

/** The enabled user and session an id (by its sha256) stands for, unless revoked or expired. */
export async function userOfSession(
  store: Store,
  idSha256: string,
  now = new Date(),
): Promise<{ user: UserRecord; session: SessionRecord } | undefined> {
  return liveSession(await findSession(store, idSha256), now);
}

export async function endSession(store: Store, idSha256: string, user: string): Promise<void> {
  await store.transaction(async (tx) => {
    const ended = await tx.db
      .updateTable("sessions")
      .set({ revoked_at: isoNow() })
      .where("id_sha256", "=", idSha256)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    if (Number(ended.numUpdatedRows) > 0)
      await appendAudit(tx, { actor: user, action: "session.logout", subject: `user:${user}` });
  });
}

function toUser(row: Selectable<UsersTable>): UserRecord {
  return {
    name: row.name,
    roles: fromJsonText<Role[]>(row.roles),
    hasPassword: row.password_hash !== null,
    approverKey: row.approver_key,
    createdAt: row.created_at,
    createdBy: row.created_by,
    disabledAt: row.disabled_at,
  };
}

function toToken(row: Selectable<ApiTokensTable>): ApiTokenRecord {
  return {
    id: row.id,
    user: row.user_name,
    label: row.label,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}
