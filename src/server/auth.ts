/**
 * Who is asking: an API token (`Authorization: Bearer compat_…`) or a browser session (an
 * HttpOnly, SameSite=Strict cookie, Secure over TLS). A token that is unknown, revoked or expired,
 * or a session cookie that is forged, expired or revoked, is nobody. A request that changes state
 * on a session must carry that session's CSRF token (a form field or the X-CSRF-Token header);
 * a token is not sent by browsers on their own, so token requests need none.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { authenticateToken, type CredentialLookup, sessionUser, storeLookup } from "../accounts/index.js";
import { sameSecret, sha256Hex } from "../accounts/secrets.js";
import type { UserRecord } from "../store/accounts.js";
import type { Store } from "../store/store.js";

export const SESSION_COOKIE = "compat_session";
export const LOGIN_COOKIE = "compat_login";

export type Auth =
  | { user: UserRecord; via: "token" }
  | { user: UserRecord; via: "session"; sessionIdSha256: string; csrf: string };

/** What the request presented was not valid (as opposed to presenting nothing). */
export interface Identity {
  auth: Auth | null;
  /** A credential was presented and refused (bad token, dead session). */
  refused: string | null;
}

export async function identify(
  store: Store,
  req: FastifyRequest,
  lookup: CredentialLookup = storeLookup(store),
): Promise<Identity> {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return { auth: null, refused: "the Authorization header is not 'Bearer TOKEN'" };
    const user = await authenticateToken(store, m[1]!, lookup);
    return user
      ? { auth: { user, via: "token" }, refused: null }
      : { auth: null, refused: "the token is unknown, revoked or expired" };
  }
  const cookie = req.cookies[SESSION_COOKIE];
  if (cookie !== undefined && cookie !== "") {
    const found = await sessionUser(store, cookie, lookup);
    return found
      ? {
          auth: {
            user: found.user,
            via: "session",
            sessionIdSha256: sha256Hex(cookie),
            csrf: found.session.csrfToken,
          },
          refused: null,
        }
      : { auth: null, refused: "the session is unknown, ended or expired: log in again" };
  }
  return { auth: null, refused: null };
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export const changesState = (method: string) => UNSAFE.has(method);

/** The CSRF token a request carries: the form field `_csrf` or the X-CSRF-Token header. */
export function presentedCsrf(req: FastifyRequest): string | undefined {
  const header = req.headers["x-csrf-token"];
  if (typeof header === "string") return header;
  const body = req.body as Record<string, unknown> | undefined;
  const field = body && typeof body === "object" ? body._csrf : undefined;
  return typeof field === "string" ? field : undefined;
}

export function csrfValid(auth: Auth, req: FastifyRequest): boolean {
  if (auth.via !== "session") return true;
  const presented = presentedCsrf(req);
  return presented !== undefined && sameSecret(presented, auth.csrf);
}

export interface CookieSettings {
  secure: boolean;
}

export function setSessionCookie(
  reply: FastifyReply,
  id: string,
  expiresAt: string,
  s: CookieSettings,
): void {
  reply.setCookie(SESSION_COOKIE, id, {
    httpOnly: true,
    sameSite: "strict",
    secure: s.secure,
    path: "/",
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(reply: FastifyReply, s: CookieSettings): void {
  reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: "strict", secure: s.secure, path: "/" });
}

/**
 * Failed logins per user name and per address: after 10 within 15 minutes, logins from there are
 * refused (HTTP 429) until the window passes, so a password cannot be guessed at scrypt's pace.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  constructor(
    private readonly limit = 10,
    private readonly windowMs = 15 * 60_000,
  ) {}

  blocked(keys: string[], now = Date.now()): boolean {
    return keys.some((k) => this.#recent(k, now).length >= this.limit);
  }

  failed(keys: string[], now = Date.now()): void {
    for (const k of keys) this.#failures.set(k, [...this.#recent(k, now), now]);
    if (this.#failures.size > 10_000) this.#failures.clear(); // bounded memory whatever is sent
  }

  #recent(key: string, now: number): number[] {
    return (this.#failures.get(key) ?? []).filter((t) => t > now - this.windowMs);
  }
}
