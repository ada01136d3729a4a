/**
 * Accounts as `compat user` and `compat serve` use them: adding a user (with a first token shown
 * once), more tokens, logins by token or password, browser sessions.
 */
import { InputError } from "../errors.js";
import { nameProblem } from "../site/names.js";
import {
  type ApiTokenRecord,
  addApiToken,
  createSession,
  createUser,
  findSession,
  findToken,
  liveSession,
  passwordHashOf,
  requireUser,
  type SessionAndUser,
  type SessionRecord,
  type TokenAndUser,
  type UserRecord,
  useToken,
} from "../store/accounts.js";
import type { Store } from "../store/store.js";
import { isRole, ROLES, type Role } from "./roles.js";
import {
  hashPassword,
  looksLikeApiToken,
  looksLikeSessionId,
  newApiToken,
  newCsrfToken,
  newSessionId,
  passwordProblem,
  sha256Hex,
  UNMATCHABLE_HASH,
  verifyPassword,
} from "./secrets.js";

export * from "./roles.js";

/** A user name: what the site config calls an approver (one plain word). */
export function checkUserName(name: string): string {
  const problem = nameProblem(name);
  if (problem) throw new InputError(`user ${JSON.stringify(name)}: ${problem}`);
  return name;
}

/** Roles as typed (`maintainer,approver`): each known, no repeats, at least one. */
export function parseRoles(text: string): Role[] {
  const roles = text
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean);
  if (roles.length === 0) throw new InputError(`--role: no role given (one or more of ${ROLES.join(", ")})`);
  for (const r of roles)
    if (!isRole(r)) throw new InputError(`--role ${r}: not a role (one or more of ${ROLES.join(", ")})`);
  return [...new Set(roles)] as Role[];
}

export interface IssuedToken {
  /** The token itself: shown once, never stored. */
  token: string;
  record: ApiTokenRecord;
}

export interface AddUserRequest {
  name: string;
  roles: Role[];
  password?: string;
  approverKey?: string;
  /** When the first token expires (default: never). */
  tokenExpiresAt?: string;
}

export async function addUser(
  store: Store,
  req: AddUserRequest,
  actor: string,
): Promise<{ user: UserRecord; token: IssuedToken }> {
  checkUserName(req.name);
  let passwordHash: string | undefined;
  if (req.password !== undefined) {
    const problem = passwordProblem(req.password);
    if (problem) throw new InputError(`the password for ${req.name}: ${problem}`);
    passwordHash = await hashPassword(req.password);
  }
  return store.transaction(async (tx) => {
    const user = await createUser(
      tx,
      { name: req.name, roles: req.roles, passwordHash, approverKey: req.approverKey },
      actor,
    );
    const token = await issueToken(tx, req.name, { label: "first", expiresAt: req.tokenExpiresAt }, actor);
    return { user, token };
  });
}

export async function issueToken(
  store: Store,
  user: string,
  opts: { label?: string; expiresAt?: string },
  actor: string,
): Promise<IssuedToken> {
  const token = newApiToken();
  const record = await addApiToken(
    store,
    { user, tokenSha256: sha256Hex(token), label: opts.label, expiresAt: opts.expiresAt },
    actor,
  );
  return { token, record };
}

/**
 * How a token or a session is found by the sha256 of its secret: in the store, or (compat serve)
 * through lookups kept for as long as the store does not change. Whether it may be used (revoked,
 * expired, its user disabled) is decided after, at the time of each request.
 */
export interface CredentialLookup {
  token(sha256: string): Promise<TokenAndUser | undefined>;
  session(sha256: string): Promise<SessionAndUser | undefined>;
}

export const storeLookup = (store: Store): CredentialLookup => ({
  token: (sha256) => findToken(store, sha256),
  session: (sha256) => findSession(store, sha256),
});

/** The user a presented API token belongs to, or undefined (unknown, revoked, expired, malformed). */
export async function authenticateToken(
  store: Store,
  token: string,
  lookup: CredentialLookup = storeLookup(store),
): Promise<UserRecord | undefined> {
  if (!looksLikeApiToken(token)) return undefined;
  return (await useToken(store, await lookup.token(sha256Hex(token))))?.user;
}

/** The user when `password` is theirs; undefined otherwise (also for users without a password). */
export async function authenticatePassword(
  store: Store,
  name: string,
  password: string,
): Promise<UserRecord | undefined> {
  if (nameProblem(name) !== undefined || password.length > 1024) return undefined;
  const hash = await passwordHashOf(store, name);
  // an unknown user (or one without a password) costs the same scrypt as a wrong password
  const matches = await verifyPassword(password, hash ?? UNMATCHABLE_HASH);
  if (hash === undefined || !matches) return undefined;
  return requireUser(store, name);
}

export interface NewSession {
  /** The cookie's value: shown to the browser once, kept as its sha256. */
  id: string;
  csrfToken: string;
  expiresAt: string;
}

export async function startSession(
  store: Store,
  user: UserRecord,
  ttlMs: number,
  via: "password" | "token",
): Promise<NewSession> {
  const id = newSessionId();
  const csrfToken = newCsrfToken();
  const expiresAt = new Date(Date.now() + ttlMs).toISOString();
  await createSession(store, { idSha256: sha256Hex(id), user: user.name, csrfToken, expiresAt, via });
  return { id, csrfToken, expiresAt };
}

export async function sessionUser(
  store: Store,
  id: string,
  lookup: CredentialLookup = storeLookup(store),
): Promise<{ user: UserRecord; session: SessionRecord } | undefined> {
  if (!looksLikeSessionId(id)) return undefined;
  return liveSession(await lookup.session(sha256Hex(id)));
}
