/**
 * Which packages an atom matches: Portage's `match_from_list` and `best_match_to_list`
 * (lib/portage/dep/__init__.py), including its details: `=` compares with vercmp, `~` needs
 * the literal version string, `=V*` matches only at a version component boundary, slots and
 * sub-slots, USE deps with `(+)`/`(-)` defaults, and `::repo`.
 */
import { type Atom, parseAtom } from "./atom.js";
import { type CpvSplit, catpkgsplit, cpvequal, parseCpv } from "./cpv.js";
import { memoize } from "./memo.js";
import { compareVersionsOrUndefined } from "./version.js";

/** An installed or available package as matching sees it. */
export interface PackageCandidate {
  cpv: string;
  /** SLOT; `undefined` means unknown (no slot restriction applies). */
  slot?: string | null;
  /** Sub-slot; defaults to the slot. */
  subSlot?: string | null;
  repo?: string | null;
  /** Enabled USE flags; `undefined` means unknown (USE deps are not checked). */
  use?: readonly string[] | ReadonlySet<string> | null;
  /** IUSE (`+`/`-` defaults allowed). */
  iuse?: readonly string[] | null;
  buildId?: number | null;
}

/** A candidate is a cpv string (optionally `cpv:slot[/sub]` and `::repo`) or a package. */
export type Candidate = string | PackageCandidate;

/** Portage's placeholder for a package whose repository is not known. */
export const UNKNOWN_REPO = "__unknown__";

interface Normalized {
  /** The cpv without slot/repo. */
  cpv: string;
  split: CpvSplit | null;
  slot: string | undefined;
  subSlot: string | undefined;
  repo: string | undefined;
  pkg: PackageCandidate | undefined;
}

/** `remove_slot`: cut at the first `:`, or else at `[`. */
export function removeSlot(s: string): string {
  const colon = s.indexOf(":");
  if (colon !== -1) return s.slice(0, colon);
  const bracket = s.indexOf("[");
  return bracket === -1 ? s : s.slice(0, bracket);
}

/** `dep_getslot` on a string. */
function slotOfString(s: string): string | undefined {
  const noRepo = s.split("::")[0]!;
  const colon = noRepo.indexOf(":");
  if (colon === -1) return undefined;
  const bracket = noRepo.indexOf("[", colon);
  return bracket === -1 ? noRepo.slice(colon + 1) : noRepo.slice(colon + 1, bracket);
}

/** `dep_getrepo` on a string. */
function repoOfString(s: string): string | undefined {
  const at = s.indexOf("::");
  if (at === -1) return undefined;
  const bracket = s.indexOf("[", at);
  return bracket === -1 ? s.slice(at + 2) : s.slice(at + 2, bracket);
}

const SLOT_VALUE_RE = /^[\w][\w+.-]*(?:\/[\w][\w+.-]*)?$/;

/** A SLOT value as `_pkg_str` reads it: `slot/sub`, sub defaulting to slot, invalid → `0`. */
export function splitSlot(value: string): { slot: string; subSlot: string } {
  if (!SLOT_VALUE_RE.test(value)) return { slot: "0", subSlot: "0" };
  const [slot, sub] = value.split("/");
  return { slot: slot!, subSlot: sub ?? slot! };
}

const normalizedPackages = new WeakMap<PackageCandidate, Normalized>();
const normalizeString = memoize((c: string) => normalizeUncached(c));

/** A candidate's parts; cached per package object and per string (they are read, never changed). */
function normalize(c: Candidate): Normalized {
  if (typeof c === "string") return normalizeString(c);
  let n = normalizedPackages.get(c);
  if (!n) {
    n = normalizeUncached(c);
    normalizedPackages.set(c, n);
  }
  return n;
}

function normalizeUncached(c: Candidate): Normalized {
  if (typeof c === "string") {
    const cpv = removeSlot(c);
    const slotText = slotOfString(c);
    const slot = slotText === undefined ? undefined : splitSlot(slotText);
    return {
      cpv,
      split: catpkgsplit(cpv),
      slot: slot?.slot,
      subSlot: slot?.subSlot,
      repo: repoOfString(c),
      pkg: undefined,
    };
  }
  let slot: string | undefined;
  let subSlot: string | undefined;
  if (c.slot !== undefined && c.slot !== null) {
    if (c.subSlot !== undefined && c.subSlot !== null) {
      slot = c.slot;
      subSlot = c.subSlot;
    } else ({ slot, subSlot } = splitSlot(c.slot));
  }
  return { cpv: c.cpv, split: catpkgsplit(c.cpv), slot, subSlot, repo: c.repo ?? undefined, pkg: c };
}

function versionOf(n: Normalized): string | undefined {
  return parseCpv(n.cpv)?.version;
}

const isDigit = (ch: string) => ch >= "0" && ch <= "9";

/** Leading zeros of the first component do not count for `=V*` (`=cat/pkg-45*` matches `045`). */
function globNormalized(cp: string, cpv: string, version: string): string {
  let v = version.replace(/^0+/, "");
  if (!v || !isDigit(v[0]!)) v = `0${v}`;
  return v === version ? cpv : cpv.replace(`${cp}-${version}`, `${cp}-${v}`);
}

function extendedCpMatch(pattern: string, cp: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
  return re.test(cp);
}

function toAtom(atom: string | Atom): Atom {
  if (typeof atom === "string")
    return parseAtom(atom.replace(/^!+/, ""), { allowWildcard: true, allowRepo: true });
  return atom.blocker
    ? parseAtom(atom.text.replace(/^!+/, ""), { allowWildcard: true, allowRepo: true })
    : atom;
}

/** The candidates the atom matches, in their order (blockers are matched as their atom). */
export function matchFromList<C extends Candidate>(atomInput: string | Atom, candidates: readonly C[]): C[] {
  if (candidates.length === 0) return [];
  const atom = toAtom(atomInput);
  const mySplit = catpkgsplit(atom.cpv);
  const operator = mySplit ? atom.operator : null;
  if (mySplit && !atom.operator) return [];

  const all = candidates.map((c) => ({ c, n: normalize(c) }));
  let list: typeof all = [];

  if (atom.extendedSyntax) {
    for (const x of all) {
      const cp = x.n.split ? `${x.n.split[0]}/${x.n.split[1]}` : undefined;
      if (cp !== undefined && (cp === atom.cpv || extendedCpMatch(atom.cp, cp))) list.push(x);
    }
    if (list.length > 0 && atom.operator === "=*") {
      const want = atom.version!.slice(1, -1);
      list = list.filter((x) => {
        const s = x.n.split;
        if (!s) return false;
        const xVer = x.n.pkg ? versionOf(x.n) : `${s[2]}-${s[3]}`;
        return xVer?.includes(want) ?? false;
      });
    }
  } else if (operator === null) {
    for (const x of all) if (x.n.split && `${x.n.split[0]}/${x.n.split[1]}` === atom.cp) list.push(x);
  } else if (operator === "=") {
    for (const x of all) {
      if (!x.n.split || !parseCpv(x.n.cpv) || !cpvequal(x.n.cpv, atom.cpv)) continue;
      if (atom.buildId !== null && x.n.pkg && (x.n.pkg.buildId ?? null) !== atom.buildId) continue;
      list.push(x);
    }
  } else if (operator === "=*") {
    const want = globNormalized(atom.cp, atom.cpv, mySplit![2]);
    for (const x of all) {
      const s = x.n.split;
      if (!s || !parseCpv(x.n.cpv)) continue;
      const have = globNormalized(`${s[0]}/${s[1]}`, x.n.cpv, s[2]);
      if (!have.startsWith(want)) continue;
      // =V* matches only at a boundary between version parts: 1* does not match 10 (bug 560466)
      const next = have.charAt(want.length);
      if (!next || "._-".includes(next) || isDigit(want.at(-1)!) !== isDigit(next)) list.push(x);
    }
  } else if (operator === "~") {
    const [cat, pn, ver] = mySplit!;
    for (const x of all) {
      const s = x.n.split;
      if (!s) continue;
      if (!cpvequal(`${s[0]}/${s[1]}-${s[2]}`, `${cat}/${pn}-${ver}`)) continue;
      if (s[2] !== ver) continue;
      list.push(x);
    }
  } else {
    for (const x of all) {
      const s = x.n.split;
      const version = s ? versionOf(x.n) : undefined;
      if (!s || version === undefined || `${s[0]}/${s[1]}` !== atom.cp) continue;
      const r = compareVersionsOrUndefined(version, atom.version!);
      if (r === undefined) continue;
      if (
        (operator === ">" && r > 0) ||
        (operator === ">=" && r >= 0) ||
        (operator === "<" && r < 0) ||
        (operator === "<=" && r <= 0)
      )
        list.push(x);
    }
  }

  if (atom.slot !== null) list = list.filter((x) => x.n.slot === undefined || slotMatches(atom, x.n));
  if (atom.use) list = list.filter((x) => useMatches(atom, x.n.pkg));
  if (atom.repo)
    list = list.filter((x) => x.n.repo === undefined || x.n.repo === UNKNOWN_REPO || x.n.repo === atom.repo);
  return list.map((x) => x.c);
}

/** True when the atom matches this one candidate. */
export function atomMatches(atom: string | Atom, candidate: Candidate): boolean {
  return matchFromList(atom, [candidate]).length > 0;
}

function slotMatches(atom: Atom, n: Normalized): boolean {
  if (n.slot !== atom.slot) return false;
  return !atom.subSlot || atom.subSlot === n.subSlot;
}

function useMatches(atom: Atom, pkg: PackageCandidate | undefined): boolean {
  if (!pkg || pkg.use === undefined || pkg.use === null) return true;
  const dep = atom.use!;
  const enabled = new Set(pkg.use);
  const iuse = new Set((pkg.iuse ?? []).map((f) => f.replace(/^[+-]/, "")));
  for (const f of dep.required) if (!iuse.has(f)) return false;
  const missingEnabled = new Set([...dep.missingEnabled].filter((f) => !iuse.has(f)));
  const missingDisabled = new Set([...dep.missingDisabled].filter((f) => !iuse.has(f)));
  for (const f of dep.enabled) {
    if (missingDisabled.has(f)) return false;
    if (!enabled.has(f) && !missingEnabled.has(f)) return false;
  }
  for (const f of dep.disabled) {
    if (missingEnabled.has(f)) return false;
    if (enabled.has(f) && !missingDisabled.has(f)) return false;
  }
  return true;
}

const OPERATOR_RANK: Record<string, number> = { "=": 6, "~": 5, "=*": 4, ">": 2, "<": 2, ">=": 2, "<=": 2 };

/**
 * Portage's `best_match_to_list`: the most specific of `atoms` that matches `pkg`
 * (`=` > `~` > `=*` > `:slot` > ranges, the nearest version first > bare name > wildcards).
 */
export function bestMatchToList(pkg: Candidate, atoms: readonly (string | Atom)[]): Atom | undefined {
  let best: Atom | undefined;
  let bestValue = -99;
  const seen = new Set<string>();
  const pkgCpv = typeof pkg === "string" ? removeSlot(pkg) : pkg.cpv;
  for (const input of atoms) {
    const atom =
      typeof input === "string" ? parseAtom(input, { allowWildcard: true, allowRepo: true }) : input;
    if (seen.has(atom.text)) continue;
    seen.add(atom.text);
    if (!atomMatches(atom, pkg)) continue;
    if (atom.extendedSyntax) {
      const value = atom.operator === "=*" ? 0 : atom.slot !== null ? -1 : -2;
      if (bestValue < value) {
        bestValue = value;
        best = atom;
      }
      continue;
    }
    if (atom.slot !== null && bestValue < 3) {
      bestValue = 3;
      best = atom;
    }
    const value = atom.operator === null ? 1 : OPERATOR_RANK[atom.operator]!;
    if (value > bestValue) {
      bestValue = value;
      best = atom;
    } else if (value === bestValue && value === 2 && best) {
      // Among ranges, the one whose version is nearest to the package's wins.
      if (best.cpv === pkgCpv || best.cpv === atom.cpv) continue;
      if (atom.cpv === pkgCpv) {
        best = atom;
        continue;
      }
      const entries = [
        { who: "best", cpv: best.cpv },
        { who: "pkg", cpv: pkgCpv },
        { who: "atom", cpv: atom.cpv },
      ].sort((a, b) => compareVersionsOrUndefined(parseCpv(a.cpv)!.version, parseCpv(b.cpv)!.version) ?? 0);
      if ((entries[0]!.who === "pkg" || entries[2]!.who === "pkg") && entries[1]!.who === "atom") best = atom;
    }
  }
  return best;
}
