/**
 * Category/package-version strings (cpv) split the way Portage splits them
 * (lib/portage/versions.py: `_pkgsplit`, `catpkgsplit`, `_pkg_str`).
 */
import { memoize } from "./memo.js";
import { compareVersionsOrUndefined, VERSION_SOURCE } from "./version.js";

/** PMS 3.1.1: `[A-Za-z0-9+_.-]`, not starting with `-`, `.` or `+`. */
export const CATEGORY_SOURCE = String.raw`[\w][\w+.-]*`;
/** PMS 3.1.2 (lazy, as in Portage, so that a trailing version is split off). */
export const PACKAGE_SOURCE = String.raw`[\w][\w+-]*?`;
/** A version with optional revision, without capture groups. */
export const VERSION_REVISION_SOURCE = `${VERSION_SOURCE.replace(/\((?!\?)/g, "(?:")}(?:-r\\d+)?`;

const CATEGORY_RE = new RegExp(`^${CATEGORY_SOURCE}$`);
// `pn_inval` matches when the name itself ends in a version (`foo-1.2-3`): that is not a cpv.
const PV_RE = new RegExp(
  `^(?<pn>${PACKAGE_SOURCE}(?<inval>-${VERSION_REVISION_SOURCE})?)-(?<ver>${VERSION_SOURCE.replace(/\((?!\?)/g, "(?:")})(?:-r(?<rev>\\d+))?$`,
);

/** Portage's category for a cpv given without one. */
export const MISSING_CATEGORY = "null";

/** `[category, name, version, "rN"]`. */
export type CpvSplit = [category: string, name: string, version: string, revision: string];

export function isValidCategory(category: string): boolean {
  return CATEGORY_RE.test(category);
}

/** `name-version[-rN]` → `[name, version, "rN"]`, or undefined. */
export function pkgsplit(pv: string): [name: string, version: string, revision: string] | undefined {
  const m = PV_RE.exec(pv);
  if (!m?.groups || m.groups.inval !== undefined) return undefined;
  return [m.groups.pn!, m.groups.ver!, `r${m.groups.rev ?? "0"}`];
}

/**
 * Split `category/name-version[-rN]` into `[category, name, version, "rN"]`, or null when it is
 * not a cpv. Without a category the category is `"null"`, as in Portage. A trailing `:slot`
 * or `::repo` is ignored, as Portage's matching code does with `remove_slot()` before it splits.
 */
export function catpkgsplit(input: string): CpvSplit | null {
  const split = catpkgsplitMemo(input);
  return split ? [...split] : null;
}

const catpkgsplitMemo = memoize(catpkgsplitUncached);

function catpkgsplitUncached(input: string): CpvSplit | null {
  const colon = input.indexOf(":");
  const s = colon === -1 ? input : input.slice(0, colon);
  const slash = s.indexOf("/");
  let category: string;
  let pv: string;
  if (slash === -1) {
    category = MISSING_CATEGORY;
    pv = s;
  } else {
    category = s.slice(0, slash);
    pv = s.slice(slash + 1);
    if (!CATEGORY_RE.test(category)) return null;
  }
  const split = pkgsplit(pv);
  return split ? [category, ...split] : null;
}

/** A parsed cpv: what Portage keeps in a `_pkg_str`. */
export interface Cpv {
  cpv: string;
  category: string;
  name: string;
  /** `category/name` */
  cp: string;
  /** The version with its revision when the cpv spells one (`1.2-r1`, `1.2-r0`), else without (`1.2`). */
  version: string;
  /** The version without revision. */
  baseVersion: string;
  /** `rN` (`r0` when absent). */
  revision: string;
}

/** Parse a cpv (no slot, no repo); undefined when it is not one. The result is shared: do not change it. */
export const parseCpv: (cpv: string) => Cpv | undefined = memoize(parseCpvUncached);

function parseCpvUncached(cpv: string): Cpv | undefined {
  const split = catpkgsplit(cpv);
  if (!split || cpv.includes(":")) return undefined;
  const [category, name, baseVersion, revision] = split;
  const version = revision === "r0" && !cpv.endsWith("-r0") ? baseVersion : `${baseVersion}-${revision}`;
  return { cpv, category, name, cp: `${category}/${name}`, version, baseVersion, revision };
}

/** Portage's `cpvequal`: same category and name, equal versions (vercmp). Throws if either is not a cpv. */
export function cpvequal(a: string, b: string): boolean {
  const x = parseCpv(a);
  const y = parseCpv(b);
  if (!x || !y) throw new Error(`not a cpv: ${!x ? a : b}`);
  return (
    x.category === y.category && x.name === y.name && compareVersionsOrUndefined(x.version, y.version) === 0
  );
}
