/**
 * Debian's security-tracker JSON export (`https://security-tracker.debian.org/tracker/data/json`):
 *
 *   { "<source package>": { "<CVE id>": { "description": …, "releases": {
 *       "<codename>": { "status": "open" | "resolved" | "undetermined", "fixed_version": "…",
 *                       "urgency": "low" | "medium" | …, "nodsa": "…", "repositories": {…} } } } } }
 *
 * The whole export is tens of megabytes; a layer has a few hundred source packages. So the file is
 * scanned as bytes for its top-level keys and only the values of the packages asked for are
 * decoded (`pickTopLevel`): memory stays near the file's size, not the tens of times more that a
 * full JSON.parse of it takes. A file that is not such an object is refused with where it breaks.
 */

import { isValidVersion } from "../../debian/version.js";
import { CVE_RE } from "../advisory.js";

export class TrackerFormatError extends Error {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** The end (exclusive) of the JSON string starting at `i` (a quote). */
function stringEnd(buf: Buffer, i: number): number {
  for (let j = i + 1; j < buf.length; j++) {
    const c = buf[j]!;
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  throw new TrackerFormatError(`unterminated string at byte ${i}`);
}

/** The end (exclusive) of the JSON value starting at `i`. */
function valueEnd(buf: Buffer, i: number): number {
  const c = buf[i];
  if (c === QUOTE) return stringEnd(buf, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let j = i; j < buf.length; j++) {
      const d = buf[j]!;
      if (d === QUOTE) j = stringEnd(buf, j) - 1;
      else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new TrackerFormatError(`unterminated ${c === 0x7b ? "object" : "array"} at byte ${i}`);
  }
  let j = i;
  while (j < buf.length && buf[j] !== 0x2c && buf[j] !== 0x7d && !isSpace(buf[j]!)) j++;
  if (j === i) throw new TrackerFormatError(`expected a value at byte ${i}`);
  return j;
}

/** The values of the top-level keys in `wanted` of a JSON object, decoded; others are skipped unread. */
export function pickTopLevel(buf: Buffer, wanted: ReadonlySet<string>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  let i = 0;
  const skipSpace = () => {
    while (i < buf.length && isSpace(buf[i]!)) i++;
  };
  skipSpace();
  if (buf[i] !== 0x7b) throw new TrackerFormatError("not a JSON object (expected { at the start)");
  i++;
  skipSpace();
  if (buf[i] === 0x7d) return out;
  for (;;) {
    skipSpace();
    if (buf[i] !== QUOTE) throw new TrackerFormatError(`expected a key at byte ${i}`);
    const keyEnd = stringEnd(buf, i);
    const key = JSON.parse(buf.toString("utf8", i, keyEnd)) as string;
    i = keyEnd;
    skipSpace();
    if (buf[i] !== 0x3a)
      throw new TrackerFormatError(`expected : after key ${JSON.stringify(key)} at byte ${i}`);
    i++;
    skipSpace();
    const end = valueEnd(buf, i);
    if (wanted.has(key)) {
      try {
        out.set(key, JSON.parse(buf.toString("utf8", i, end)));
      } catch (e) {
        throw new TrackerFormatError(
          `the value of ${JSON.stringify(key)} is not JSON (${(e as Error).message})`,
        );
      }
    }
    i = end;
    skipSpace();
    if (buf[i] === 0x2c) {
      i++;
      continue;
    }
    if (buf[i] === 0x7d) return out;
    throw new TrackerFormatError(`expected , or } at byte ${i}`);
  }
}

export interface TrackerIssue {
  source: string;
  cve: string;
  status: "open" | "resolved" | "undetermined";
  /** For resolved: the first fixed version (`0`: never affected). */
  fixedVersion: string | null;
  urgency: string;
  /** Set when the security team does not plan an advisory (a point-release fix, or ignored). */
  nodsa: string | null;
  description: string;
}

/** A package's issues in one release; malformed entries go to `problems`, each named. */
export function trackerIssues(
  source: string,
  value: unknown,
  release: string,
): { issues: TrackerIssue[]; problems: string[] } {
  const issues: TrackerIssue[] = [];
  const problems: string[] = [];
  if (value === null || typeof value !== "object" || Array.isArray(value))
    return { issues, problems: [`tracker ${source}: not an object of issues`] };
  for (const [id, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!CVE_RE.test(id)) continue; // TEMP- ids have no CVE to report
    const where = `tracker ${source}/${id}`;
    const rel = (raw as { releases?: Record<string, unknown> } | null)?.releases?.[release];
    if (rel === undefined) continue;
    const r = rel as Record<string, unknown>;
    const status = r.status;
    if (status !== "open" && status !== "resolved" && status !== "undetermined") {
      problems.push(`${where}: status ${JSON.stringify(status)} is not open, resolved or undetermined`);
      continue;
    }
    const fixed = r.fixed_version;
    if (fixed !== undefined && (typeof fixed !== "string" || (fixed !== "0" && !isValidVersion(fixed)))) {
      problems.push(`${where}: fixed_version ${JSON.stringify(fixed)} is not a Debian version`);
      continue;
    }
    const urgency = typeof r.urgency === "string" ? r.urgency : "not yet assigned";
    const description = (raw as { description?: unknown }).description;
    issues.push({
      source,
      cve: id,
      status,
      fixedVersion: typeof fixed === "string" ? fixed : null,
      urgency,
      nodsa: typeof r.nodsa === "string" ? r.nodsa : null,
      description: typeof description === "string" ? description : "",
    });
  }
  return { issues, problems };
}
