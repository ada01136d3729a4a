/**
 * The secrets of accounts: passwords hashed with scrypt (memory-hard: 32 MiB and ~50 ms a try),
 * API tokens and session ids as 32 random bytes kept only as their sha256. Comparisons are in
 * constant time.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt cost: N = 2^15, r = 8 (128 · N · r = 32 MiB of memory per hash), p = 1. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Buffer, params: { N: number; r: number; p: number }) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, KEY_LENGTH, { ...params, maxmem: 256 * params.N * params.r }, (e, key) =>
      e ? reject(e) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$<salt base64>$<hash base64>` */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT);
  return ["scrypt", SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString("base64"), key.toString("base64")].join("$");
}

/**
 * A hash in today's parameters that no password matches (a random key of a random salt). A login for
 * a name without a password hash is checked against it, so that the answer takes one scrypt either
 * way and its timing does not tell whether the user exists.
 */
export const UNMATCHABLE_HASH = [
  "scrypt",
  SCRYPT.N,
  SCRYPT.r,
  SCRYPT.p,
  randomBytes(16).toString("base64"),
  randomBytes(KEY_LENGTH).toString("base64"),
].join("$");

/** Whether `password` is the one `stored` was made from; a malformed hash matches nothing. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  // the parameters come from our own table, but never let a damaged row make us allocate gigabytes
  if (![N, r, p].every(Number.isSafeInteger) || N > 1 << 20 || r > 32 || p > 16 || N < 2) return false;
  const salt = Buffer.from(parts[4]!, "base64");
  const expected = Buffer.from(parts[5]!, "base64");
  if (expected.length !== KEY_LENGTH) return false;
  const key = await scryptAsync(password, salt, { N, r, p });
  return timingSafeEqual(key, expected);
}

/** What a password must be: long enough to resist guessing, one line. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < 12) return `${password.length} characters: a password needs at least 12`;
  if (password.length > 1024) return "longer than 1024 characters";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\u0000-\u001f\u007f]/.test(password)) return "holds control characters (a newline, a tab …)";
  return undefined;
}

const TOKEN_PREFIX = "compat_";

/** A new API token: `compat_` and 43 characters of base64url (32 random bytes). */
export function newApiToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** Whether a string has the shape of one of our tokens (before any lookup). */
export function looksLikeApiToken(value: string): boolean {
  return /^compat_[A-Za-z0-9_-]{43}$/.test(value);
}

/** A new session id for a cookie (32 random bytes, base64url). */
export function newSessionId(): string {
  return randomBytes(32).toString("base64url");
}

export function looksLikeSessionId(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}

/** A CSRF token for the forms of one session. */
export function newCsrfToken(): string {
  return randomBytes(24).toString("base64url");
}

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Constant-time equality of two strings (false when their lengths differ). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
