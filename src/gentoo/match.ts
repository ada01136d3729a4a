/**
 * Which packages an atom matches: Portage's `match_from_list` and `best_match_to_list`
 * (lib/portage/dep/__init__.py), including its details: `=` compares with vercmp, `~` needs
 * the literal version string, `=V*` matches only at a version component boundary, slots and
 * sub-slots, USE deps with `(+)`/`(-)` defaults, and `::repo`.
 */
import { type Atom, parseAtom } from "./atom.js";
import { type Cpv, type CpvSplit, catpkgsplit, parseCpv } from "./cpv.js";
import { memoize } from "./memo.js";
import { compareVersionsOrUndefined, parseVersion, type Version } from "./version.js";

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
  /** `category/name` when the cpv splits. */
  cp: string | undefined;
  /** The parsed cpv (its version keeps the revision as written). */
  parsed: Cpv | undefined;
  version: Version | undefined;
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
    return withParts({
      cpv,
      slot: slot?.slot,
      subSlot: slot?.subSlot,
      repo: repoOfString(c),
      pkg: undefined,
    });
  }
  let slot: string | undefined;
  let subSlot: string | undefined;
  if (c.slot !== undefined && c.slot !== null) {
    if (c.subSlot !== undefined && c.subSlot !== null) {
      slot = c.slot;
      subSlot = c.subSlot;
    } else ({ slot, subSlot } = splitSlot(c.slot));
  }
  return withParts({ cpv: c.cpv, slot, subSlot, repo: c.repo ?? undefined, pkg: c });
}

function withParts(n: Omit<Normalized, "split" | "cp" | "parsed" | "version">): Normalized {
  const split = catpkgsplit(n.cpv);
  const parsed = parseCpv(n.cpv);
  return {
    ...n,
    split,
    cp: split ? `${split[0]}/${split[1]}` : undefined,
    parsed,
    version: parsed ? parseVersion(parsed.version) : undefined,
  };
}

const isDigit = (ch: string) => ch >= "0" && ch <= "9";

/** Leading zeros of the first component do not count for `=V*` (`=cat/pkg-45*` matches `045`). */
function globNormalized(cp: string, cpv: string, version: string): string {
  let v = version.replace(/^0+/, "");
  if (!v || !isDigit(v[0]!)) v = `0${v}`;
  return v === version ? cpv : cpv.replace(`${cp}-${version}`, `${cp}-${v}`);
}

function toAtom(atom: string | Atom): Atom {
  if (typeof atom === "string")
    return parseAtom(atom.replace(/^!+/, ""), { allowWildcard: true, allowRepo: true });
  return atom.blocker
    ? parseAtom(atom.text.replace(/^!+/, ""), { allowWildcard: true, allowRepo: true })
    : atom;
}

/** An atom prepared for matching many candidates (what match_from_list computes up front). */
interface Prepared {
  atom: Atom;
  split: CpvSplit | null;
  /** null: compare the cp only; undefined: a versioned atom without operator (matches nothing) */
  operator: Atom["operator"] | undefined;
  version: Version | undefined;
  /** `=V*`: the normalized prefix; extended `=*`: the substring */
  glob: string | undefined;
  extended: RegExp | undefined;
}

const prepared = new WeakMap<Atom, Prepared>();

function prepare(atom: Atom): Prepared {
  let p = prepared.get(atom);
  if (p) return p;
  const split = catpkgsplit(atom.cpv);
  const operator = split ? (atom.operator ?? undefined) : null;
  p = {
    atom,
    split,
    operator,
    version: atom.version && !atom.extendedSyntax ? parseVersion(atom.version) : undefined,
    glob: atom.extendedSyntax
      ? atom.operator === "=*"
        ? atom.version!.slice(1, -1)
        : undefined
      : operator === "=*"
        ? globNormalized(atom.cp, atom.cpv, split![2])
        : undefined,
    extended: atom.extendedSyntax
      ? new RegExp(`^${atom.cp.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`)
      : undefined,
  };
  prepared.set(atom, p);
  return p;
}

/** match_from_list's per-candidate test, before the slot, USE and repo filters. */
function versionMatches(p: Prepared, n: Normalized): boolean {
  const { atom } = p;
  if (atom.extendedSyntax) {
    if (n.cp === undefined || !(n.cp === atom.cpv || p.extended!.test(n.cp))) return false;
    if (atom.operator !== "=*") return true;
    const s = n.split!;
    const xVer = n.pkg ? n.parsed?.version : `${s[2]}-${s[3]}`;
    return xVer?.includes(p.glob!) ?? false;
  }
  switch (p.operator) {
    case undefined:
      return false;
    case null:
      return n.cp === atom.cp;
    case "=":
      if (!n.parsed || n.parsed.category !== atom.category || n.parsed.name !== atom.name) return false;
      if (compareVersionsOrUndefined(n.version!, p.version!) !== 0) return false;
      return atom.buildId === null || !n.pkg || (n.pkg.buildId ?? null) === atom.buildId;
    case "=*": {
      const s = n.split;
      if (!s || !n.parsed) return false;
      const have = globNormalized(n.cp!, n.cpv, s[2]);
      const want = p.glob!;
      if (!have.startsWith(want)) return false;
      // =V* matches only at a boundary between version parts: 1* does not match 10 (bug 560466)
      const next = have.charAt(want.length);
      return !next || "._-".includes(next) || isDigit(want.at(-1)!) !== isDigit(next);
    }
    case "~": {
      const s = n.split;
      const [cat, pn, ver] = p.split!;
      // cpvequal on the versions without revision, then the literal version string
      return !!s && s[0] === cat && s[1] === pn && s[2] === ver;
    }
    default: {
      if (!n.split || n.cp !== atom.cp || !n.version) return false;
      const r = compareVersionsOrUndefined(n.version, p.version!);
      if (r === undefined) return false;
      switch (p.operator) {
        case ">":
          return r > 0;
        case ">=":
          return r >= 0;
        case "<":
          return r < 0;
        default:
          return r <= 0;
      }
    }
  }
}

function candidateMatches(p: Prepared, n: Normalized): boolean {
  if (!versionMatches(p, n)) return false;
  const { atom } = p;
  if (atom.slot !== null && n.slot !== undefined && !slotMatches(atom, n)) return false;
  if (atom.use && !useMatches(atom, n.pkg)) return false;
  if (atom.repo && n.repo !== undefined && n.repo !== UNKNOWN_REPO && n.repo !== atom.repo) return false;
  return true;
}

/** The candidates the atom matches, in their order (blockers are matched as their atom). */
export function matchFromList<C extends Candidate>(atomInput: string | Atom, candidates: readonly C[]): C[] {
  if (candidates.length === 0) return [];
  const p = prepare(toAtom(atomInput));
  return candidates.filter((c) => candidateMatches(p, normalize(c)));
}

/** True when the atom matches this one candidate. */
export function atomMatches(atom: string | Atom, candidate: Candidate): boolean {
  return candidateMatches(prepare(toAtom(atom)), normalize(candidate));
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
