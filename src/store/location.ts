/**
 * Where the store is, as users write it: a SQLite file (`sqlite:PATH`, or a plain path) or a
 * PostgreSQL URL (`postgres://USER@HOST[:PORT]/DB`). Messages name a store by `describeStore`,
 * which never shows a password.
 */
import { isAbsolute, resolve } from "node:path";
import { closest } from "../config/near.js";
import { InputError } from "../errors.js";

export type StoreLocation = { backend: "sqlite"; path: string } | { backend: "postgres"; url: string };

const SCHEMES = ["sqlite", "postgres", "postgresql"] as const;
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** What is wrong with a store URL, or undefined when it is one compat can open. */
export function storeUrlProblem(value: string): string | undefined {
  if (value.trim() === "") return "empty (expected sqlite:PATH or postgres://USER@HOST/DB)";
  const scheme = SCHEME_RE.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === "sqlite") {
    const path = scheme === undefined ? value : value.slice("sqlite:".length);
    if (path === "") return "sqlite: needs a file path (sqlite:PATH)";
    if (path.includes("\0")) return "the path holds a NUL byte";
    return undefined;
  }
  if (scheme === "postgres" || scheme === "postgresql") {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return "not a PostgreSQL URL (expected postgres://USER@HOST[:PORT]/DB)";
    }
    if (!url.hostname) return "the PostgreSQL URL names no host (expected postgres://USER@HOST[:PORT]/DB)";
    return undefined;
  }
  const guess = closest(scheme, SCHEMES);
  return `unknown store scheme "${scheme}:"${guess ? `, did you mean "${guess}:"?` : ""} (expected sqlite:PATH or postgres://USER@HOST/DB)`;
}

/** The store a URL names; a relative SQLite path is taken from `baseDir`. Throws InputError (exit 2). */
export function parseStoreUrl(value: string, baseDir: string): StoreLocation {
  const problem = storeUrlProblem(value);
  if (problem) throw new InputError(`store ${redactStoreUrl(value)}: ${problem}`);
  const scheme = SCHEME_RE.exec(value)?.[1]?.toLowerCase();
  if (scheme === "postgres" || scheme === "postgresql") return { backend: "postgres", url: value };
  const path = scheme === "sqlite" ? value.slice("sqlite:".length) : value;
  return { backend: "sqlite", path: isAbsolute(path) ? path : resolve(baseDir, path) };
}

/** The store as messages name it: `sqlite:/abs/path` or the PostgreSQL URL without its password. */
export function describeStore(location: StoreLocation): string {
  return location.backend === "sqlite" ? `sqlite:${location.path}` : redactStoreUrl(location.url);
}

/** A store URL with any password (in the user part or a query parameter) replaced by `***`. */
export function redactStoreUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // not parseable: hide whatever sits between "user:" and "@" the way a URL would carry it
    return value.replace(/(\/\/[^/:@]*:)[^@/]*@/, "$1***@");
  }
  if (!url.password && ![...url.searchParams.keys()].some((k) => /pass/i.test(k))) return value;
  if (url.password) url.password = "***";
  for (const key of [...url.searchParams.keys()]) if (/pass/i.test(key)) url.searchParams.set(key, "***");
  return url.toString();
}
