/**
 * The audit gate's verdict, pure: the findings on the published layer (before) and on the
 * candidate (after), by the same advisory data. A finding is the same one on both sides when its
 * source, advisory and package name are (the installed version is what an update changes). The
 * update was for the findings of the packages it names, or for every finding before when it names
 * none (`--all`); each of those must be gone, and no finding may be new. A package is named by its
 * ecosystem's name (`dev-libs/openssl` in any atom; a Debian binary package, bare or as apt's
 * `name=version`), and a finding is for it when the finding's package (a Debian source package)
 * or one of the binaries its fix upgrades is that name.
 */
import { parseAtom } from "../../gentoo/atom.js";
import type { Finding } from "../../security/advisory.js";

export interface AuditComparison {
  /** The before-findings the update was for. */
  targeted: Finding[];
  /** Targeted findings the candidate no longer has. */
  resolved: Finding[];
  /** Targeted findings the candidate still has: each fails the gate. */
  remaining: Finding[];
  /** Findings the candidate has and the published layer had not: each fails the gate. */
  introduced: Finding[];
  /** Findings on both sides that the update was not for. */
  untouched: Finding[];
}

/** A finding as the sources give it; `upgrade` (apt's `name=version` of each binary to install) where known. */
type JudgedFinding = Finding & { upgrade?: readonly string[] };

const key = (f: Finding) => `${f.source}\0${f.id}\0${f.package}`;

/** The package a request names: category/name of a gentoo atom, the name of apt's `name=version`. */
export function requestedName(p: string): string {
  if (p.includes("/")) {
    try {
      // whatever operator, version, slot or repository the atom carries
      return parseAtom(p).cp;
    } catch {
      return p;
    }
  }
  return p.split("=")[0] ?? p;
}

/** Whether finding `f` is about one of `packages` (its package, or a binary its fix upgrades). */
export function namedBy(packages: readonly string[], f: JudgedFinding): boolean {
  const names = new Set(packages.map(requestedName));
  return names.has(f.package) || (f.upgrade ?? []).some((u) => names.has(requestedName(u)));
}

export function compareAudits(
  before: readonly JudgedFinding[],
  after: readonly JudgedFinding[],
  packages: readonly string[] | undefined,
): AuditComparison {
  const afterKeys = new Set(after.map(key));
  const beforeKeys = new Set(before.map(key));
  const isTarget = (f: JudgedFinding) =>
    packages === undefined || packages.length === 0 || namedBy(packages, f);
  const targeted = before.filter(isTarget);
  return {
    targeted,
    resolved: targeted.filter((f) => !afterKeys.has(key(f))),
    remaining: after.filter((f) => beforeKeys.has(key(f)) && isTarget(f)),
    introduced: after.filter((f) => !beforeKeys.has(key(f))),
    untouched: after.filter((f) => beforeKeys.has(key(f)) && !isTarget(f)),
  };
}
