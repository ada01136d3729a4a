/**
 * glsa-check's decision, exactly (portage lib/portage/glsa.py `makeAtom`, `match`,
 * `revisionMatch`, `getMinUpgrade`, `Glsa.isVulnerable`):
 * - each `<package>` element ("path") is judged on its own;
 * - an installed package is affected by a path when it matches one of the path's vulnerable
 *   atoms and none of its unaffected atoms; a GLSA affects the system when some path with a
 *   matching arch affects some installed package;
 * - `r*` ranges compare revisions of the same version only (`rge 1.2-r3` = `~1.2` with revision
 *   ≥ 3; `1.2.1` never matches);
 * - slots come from the `slot` attribute or a `:slot` written after the version.
 */
import { type Atom, parseAtom, versionedAtom } from "../atom.js";
import { parseCpv } from "../cpv.js";
import { atomMatches, type PackageCandidate } from "../match.js";
import { compareVersionsOrUndefined } from "../version.js";
import {
  type Glsa,
  GlsaFormatError,
  type GlsaPackage,
  type GlsaRange,
  type GlsaVersionRange,
} from "./model.js";

export { ARCH_KEYWORDS, archKeyword } from "../keyword.js";

/** Portage's opMapping, without the leading space it puts before `>~`/`<~` to detect them. */
export const RANGE_OPERATORS: Record<GlsaRange, string> = {
  le: "<=",
  lt: "<",
  eq: "=",
  gt: ">",
  ge: ">=",
  rge: ">=~",
  rle: "<=~",
  rgt: ">~",
  rlt: "<~",
};

export interface GlsaPathAtoms {
  pkg: string;
  arch: string;
  auto: boolean;
  vulnerable: string[];
  unaffected: string[];
}

/** The atom glsa-check builds from one range: `<cat/pkg-1.2`, `>=cat/pkg-1.2:3`, `>=~cat/pkg-1.2-r3`. */
export function rangeAtom(pkg: string, r: GlsaVersionRange): string {
  return `${RANGE_OPERATORS[r.range]}${pkg}-${r.version}${r.slot ? `:${r.slot}` : ""}`;
}

/** Per `<package>` element, the vulnerable and unaffected atoms as glsa-check spells them. */
export function glsaAtoms(glsa: Pick<Glsa, "packages">): GlsaPathAtoms[] {
  return glsa.packages.map((p) => ({
    pkg: p.name,
    arch: p.arch,
    auto: p.auto,
    vulnerable: p.vulnerable.map((r) => rangeAtom(p.name, r)),
    unaffected: p.unaffected.map((r) => rangeAtom(p.name, r)),
  }));
}

/** A GLSA atom ready for matching: a Portage atom, or a revision range over one version. */
export type GlsaMatcher =
  | { kind: "atom"; text: string; atom: Atom }
  | { kind: "revision"; text: string; same: Atom; op: "<" | "<=" | ">" | ">="; revision: bigint };

const REVISION_RANGE_RE = /^([<>]=?)~(.*)$/;

/** Compile a glsa-check atom. Throws InvalidAtomError when Portage could not parse it either. */
export function compileGlsaAtom(text: string): GlsaMatcher {
  const r = REVISION_RANGE_RE.exec(text.trimStart());
  if (!r) return { kind: "atom", text, atom: parseAtom(text) };
  // revisionMatch(): `~cat/pkg-V[:slot]` finds every revision of version V; then the revision
  // of each installed match is compared with the atom's as an integer (a missing one is 0).
  const rest = r[2]!;
  const colon = rest.indexOf(":");
  const cpvText = colon === -1 ? rest : rest.slice(0, colon);
  const slot = colon === -1 ? "" : rest.slice(colon);
  const cpv = parseCpv(cpvText);
  if (!cpv) return { kind: "atom", text, atom: parseAtom(text) }; // throws the same InvalidAtomError
  const same = parseAtom(`~${cpv.category}/${cpv.name}-${cpv.baseVersion}${slot}`);
  return { kind: "revision", text, same, op: r[1] as "<", revision: BigInt(cpv.revision.slice(1)) };
}

const DIRECT_OPERATORS: Partial<Record<GlsaRange, "<" | "<=" | "=" | ">" | ">=">> = {
  le: "<=",
  lt: "<",
  eq: "=",
  gt: ">",
  ge: ">=",
};

/**
 * The matcher of one range: the same as compiling its atom text, built without the atom
 * regex when the version and slot are plainly valid (a GLSA's name is already a valid cp).
 */
export function compileRange(pkg: string, r: GlsaVersionRange): GlsaMatcher {
  const text = rangeAtom(pkg, r);
  const op = DIRECT_OPERATORS[r.range];
  const atom = op ? versionedAtom(op, pkg, r.version, r.slot) : undefined;
  return atom ? { kind: "atom", text, atom } : compileGlsaAtom(text);
}

export function glsaAtomMatches(m: GlsaMatcher, pkg: PackageCandidate): boolean {
  if (m.kind === "atom") return atomMatches(m.atom, pkg);
  if (!atomMatches(m.same, pkg)) return false;
  const rev = BigInt(parseCpv(pkg.cpv)!.revision.slice(1));
  switch (m.op) {
    case "<":
      return rev < m.revision;
    case "<=":
      return rev <= m.revision;
    case ">":
      return rev > m.revision;
    case ">=":
      return rev >= m.revision;
  }
}

const ARCH_RE = /^\*$|^[-_a-z0-9 ]+$/;

/** Does a `<package arch>` apply to this keyword? Throws GlsaFormatError on a malformed list, as Portage does. */
export function archApplies(glsaId: string, arch: string, keyword: string): boolean {
  if (!ARCH_RE.test(arch))
    throw new GlsaFormatError(`Unrecognized arch list in ${glsaId} (wrong delimiter?): ${arch}`);
  return arch === "*" || arch.split(/\s+/).includes(keyword);
}

/** One `<package>` element compiled for matching. */
export interface CompiledPath {
  pkg: string;
  arch: string;
  element: GlsaPackage;
  vulnerable: GlsaMatcher[];
  unaffected: GlsaMatcher[];
}

export function compileGlsa(glsa: Pick<Glsa, "packages">): CompiledPath[] {
  return glsa.packages.map(compilePath);
}

export function compilePath(p: GlsaPackage): CompiledPath {
  return {
    pkg: p.name,
    arch: p.arch,
    element: p,
    vulnerable: p.vulnerable.map((r) => compileRange(p.name, r)),
    unaffected: p.unaffected.map((r) => compileRange(p.name, r)),
  };
}

/** Is this installed package in (∪ vulnerable) − (∪ unaffected) of the path? */
export function pathAffects(path: CompiledPath, pkg: PackageCandidate): boolean {
  return (
    path.vulnerable.some((m) => glsaAtomMatches(m, pkg)) &&
    !path.unaffected.some((m) => glsaAtomMatches(m, pkg))
  );
}

export interface GlsaHit<P extends PackageCandidate> {
  path: CompiledPath;
  pkg: P;
}

/**
 * Every (path, installed package) the GLSA hits for this keyword; empty when glsa-check would
 * say "not affected". Throws GlsaFormatError where glsa-check would (malformed arch list).
 */
export function glsaHits<P extends PackageCandidate>(
  glsaId: string,
  paths: readonly CompiledPath[],
  installed: readonly P[],
  keyword: string,
): GlsaHit<P>[] {
  const hits: GlsaHit<P>[] = [];
  for (const path of paths) {
    if (!archApplies(glsaId, path.arch, keyword)) continue;
    for (const pkg of installed) if (pathAffects(path, pkg)) hits.push({ path, pkg });
  }
  return hits;
}

/** glsa-check's `isVulnerable()` for one GLSA over the installed packages. */
export function isGlsaAffecting(
  glsa: Glsa,
  installed: readonly PackageCandidate[],
  keyword: string,
): boolean {
  return glsaHits(glsa.id, compileGlsa(glsa), installed, keyword).length > 0;
}

const FIX_OPERATORS: Partial<Record<GlsaRange, string>> = {
  ge: ">=",
  gt: ">",
  eq: "=",
  rge: ">=~",
  rgt: ">~",
};

/**
 * The smallest unaffected range that is an upgrade for this package (`>=dev-libs/openssl-3.0.13`,
 * `>=dev-vcs/git-2.23.3:0`); null when the GLSA offers none (the package has to be removed). Like
 * getMinUpgrade it stays in the package's slot. A revision range covers revisions of that one
 * version only, so it is never widened to `>=`: from revision 0 it is the atom `~cat/pkg-V`, from a
 * later revision glsa-check's own spelling `>=~cat/pkg-V-rN` (no emerge atom says "V, rN or later").
 */
export function fixAtom(element: GlsaPackage, pkg: PackageCandidate): string | null {
  const installed = parseCpv(pkg.cpv);
  if (!installed) return null;
  const slot = pkg.slot?.split("/")[0];
  let best: GlsaVersionRange | undefined;
  for (const r of element.unaffected) {
    if (!FIX_OPERATORS[r.range]) continue;
    if (r.slot && slot !== undefined && r.slot !== slot) continue;
    const c = compareVersionsOrUndefined(r.version, installed.version);
    if (c === undefined) continue;
    const upgrade = r.range === "gt" || r.range === "rgt" ? c >= 0 : c > 0;
    if (!upgrade) continue;
    if (!best || (compareVersionsOrUndefined(r.version, best.version) ?? 0) < 0) best = r;
  }
  if (!best) return null;
  const inSlot = best.slot ? `:${best.slot}` : "";
  const fromRevisionZero = !/-r0*[1-9]\d*$/.test(best.version);
  if (best.range === "rge" && fromRevisionZero)
    return `~${element.name}-${best.version.replace(/-r0+$/, "")}${inSlot}`;
  return `${FIX_OPERATORS[best.range]}${element.name}-${best.version}${inSlot}`;
}
