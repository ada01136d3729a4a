/**
 * Debian package versions (deb-version(7)): `[epoch:]upstream[-revision]`, parsed and compared
 * exactly as dpkg does (lib/dpkg/parsehelp.c `parseversion`, lib/dpkg/version.c `verrevcmp`).
 *
 *   parseVersion("1:2.36-9+deb12u4")       → { epoch: 1, upstream: "2.36", revision: "9+deb12u4" }
 *   compareVersions("2.2~rc-4", "2.2-1")   → -1   (`~` sorts before everything, even the end)
 *   satisfies("1.0-1", ">=", "1.0")        → true (relations `<<`, `<=`, `=`, `>=`, `>>`)
 *
 * dpkg tells apart errors (unparseable: empty, bad epoch, empty revision) and warnings (a character
 * outside the allowed set, upstream not starting with a digit); a lax parse, as dpkg uses for its
 * own database, accepts the latter. Pure: no I/O.
 */
import { InputError } from "../errors.js";

export interface DebianVersion {
  epoch: number;
  upstream: string;
  /** "" when the version has no revision. */
  revision: string;
}

export type VersionProblemSeverity = "error" | "warning";

export class InvalidVersionError extends InputError {
  readonly severity: VersionProblemSeverity;
  readonly input: string;
  constructor(input: string, severity: VersionProblemSeverity, reason: string) {
    super(`invalid Debian version ${JSON.stringify(input)}: ${reason}`, {
      hint: "a Debian version is [epoch:]upstream[-revision], e.g. 1:2.36-9+deb12u4 (deb-version(7))",
    });
    this.name = "InvalidVersionError";
    this.severity = severity;
    this.input = input;
  }
}

const INT_MAX = 2 ** 31 - 1;
const isBlank = (c: string) => c === " " || c === "\t";
const isDigit = (c: string) => c >= "0" && c <= "9";
const isAlpha = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");

export interface ParseOptions {
  /** Also reject what dpkg only warns about (bad characters, upstream not starting with a digit). Default true. */
  strict?: boolean;
}

/** Parse a version string; throws InvalidVersionError (an InputError) when dpkg would reject it. */
export function parseVersion(input: string, opts: ParseOptions = {}): DebianVersion {
  const strict = opts.strict ?? true;
  const fail = (severity: VersionProblemSeverity, reason: string) =>
    new InvalidVersionError(input, severity, reason);
  let start = 0;
  while (start < input.length && isBlank(input[start]!)) start++;
  if (start === input.length) throw fail("error", "version string is empty");
  let end = start;
  while (end < input.length && !isBlank(input[end]!)) end++;
  for (let p = end; p < input.length; p++)
    if (!isBlank(input[p]!)) throw fail("error", "version string has embedded spaces");
  let s = input.slice(start, end);

  let epoch = 0;
  const colon = s.indexOf(":");
  if (colon !== -1) {
    // strtol semantics: optional sign, then digits; it must stop exactly at the colon.
    const m = /^[+-]?\d+/.exec(s);
    if (!m) throw fail("error", "epoch in version is empty");
    if (m[0].length !== colon) throw fail("error", "epoch in version is not number");
    const n = Number(m[0]);
    if (n < 0) throw fail("error", "epoch in version is negative");
    if (n > INT_MAX) throw fail("error", "epoch in version is too big");
    if (colon === s.length - 1) throw fail("error", "nothing after colon in version number");
    epoch = n;
    s = s.slice(colon + 1);
  }

  let upstream = s;
  let revision = "";
  const hyphen = s.lastIndexOf("-");
  if (hyphen !== -1) {
    upstream = s.slice(0, hyphen);
    revision = s.slice(hyphen + 1);
    if (revision === "") throw fail("error", "revision number is empty");
  }
  if (upstream === "") throw fail("error", "version number is empty");

  const warning = upstreamOrRevisionWarning(upstream, revision);
  if (warning && strict) throw fail("warning", warning);
  return { epoch, upstream, revision };
}

function upstreamOrRevisionWarning(upstream: string, revision: string): string | undefined {
  if (!isDigit(upstream[0]!)) return "version number does not start with digit";
  for (const c of upstream.slice(1))
    if (!isDigit(c) && !isAlpha(c) && !".-+~:".includes(c)) return "invalid character in version number";
  for (const c of revision)
    if (!isDigit(c) && !isAlpha(c) && !".+~".includes(c)) return "invalid character in revision number";
  return undefined;
}

/** True when dpkg accepts the version without error or warning. */
export function isValidVersion(input: string): boolean {
  try {
    parseVersion(input, { strict: true });
    return true;
  } catch (e) {
    if (e instanceof InvalidVersionError) return false;
    throw e;
  }
}

export function formatVersion(v: DebianVersion): string {
  return `${v.epoch ? `${v.epoch}:` : ""}${v.upstream}${v.revision ? `-${v.revision}` : ""}`;
}

/** dpkg's `order()`: `~` before everything (even the end of the string), then digits/end, letters, the rest. */
function order(c: number): number {
  if (c >= 48 && c <= 57) return 0;
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c;
  if (c === 126) return -1;
  if (c) return c + 256;
  return 0;
}

const code = (s: string, i: number) => (i < s.length ? s.charCodeAt(i) : 0);
const digitAt = (s: string, i: number) => {
  const c = code(s, i);
  return c >= 48 && c <= 57;
};

/**
 * Compare one part (upstream or revision) the way dpkg's verrevcmp does: alternate non-digit runs
 * (compared character by character with `order`) and digit runs (compared numerically, any length).
 * Returns a negative, zero or positive number.
 */
export function compareVersionPart(a: string | null | undefined, b: string | null | undefined): number {
  const x = a ?? "";
  const y = b ?? "";
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    let firstDiff = 0;
    while ((i < x.length && !digitAt(x, i)) || (j < y.length && !digitAt(y, j))) {
      const ac = order(code(x, i));
      const bc = order(code(y, j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (code(x, i) === 48) i++;
    while (code(y, j) === 48) j++;
    while (digitAt(x, i) && digitAt(y, j)) {
      if (!firstDiff) firstDiff = code(x, i) - code(y, j);
      i++;
      j++;
    }
    if (digitAt(x, i)) return 1;
    if (digitAt(y, j)) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

type VersionLike = string | DebianVersion;

/** A version as data; strings are parsed laxly (as dpkg reads its database). */
function asVersion(v: VersionLike): DebianVersion {
  return typeof v === "string" ? parseVersion(v, { strict: false }) : v;
}

/** -1, 0 or 1 as `a` is older than, equal to or newer than `b`. */
export function compareVersions(a: VersionLike, b: VersionLike): -1 | 0 | 1 {
  const x = asVersion(a);
  const y = asVersion(b);
  if (x.epoch !== y.epoch) return x.epoch > y.epoch ? 1 : -1;
  const r = compareVersionPart(x.upstream, y.upstream) || compareVersionPart(x.revision, y.revision);
  return r === 0 ? 0 : r > 0 ? 1 : -1;
}

/** Relations as in Depends fields and `dpkg --compare-versions`; `<` and `>` are the obsolete `<=`, `>=`. */
export type Relation = "<<" | "<=" | "=" | ">=" | ">>" | "<" | ">" | "lt" | "le" | "eq" | "ge" | "gt";

const RELATIONS: Record<Relation, (c: number) => boolean> = {
  "<<": (c) => c < 0,
  lt: (c) => c < 0,
  "<=": (c) => c <= 0,
  le: (c) => c <= 0,
  "<": (c) => c <= 0,
  "=": (c) => c === 0,
  eq: (c) => c === 0,
  ">=": (c) => c >= 0,
  ge: (c) => c >= 0,
  ">": (c) => c >= 0,
  ">>": (c) => c > 0,
  gt: (c) => c > 0,
};

export function isRelation(s: string): s is Relation {
  return Object.hasOwn(RELATIONS, s);
}

/** `a rel b`, e.g. satisfies("2.36-9+deb12u4", ">=", "2.36-9+deb12u3"). */
export function satisfies(a: VersionLike, rel: Relation, b: VersionLike): boolean {
  return RELATIONS[rel](compareVersions(a, b));
}
