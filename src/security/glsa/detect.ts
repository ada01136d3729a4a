/**
 * The GLSA detector: glsa-check's decision (src/gentoo/glsa/match.ts) over a parsed corpus,
 * indexed by package name so that each installed package meets only the advisories that name
 * it. It also points out the data pitfalls of reference/security.md §1.6 where it can see them.
 */
import { InvalidAtomError } from "../../gentoo/atom.js";
import { parseCpv } from "../../gentoo/cpv.js";
import {
  archApplies,
  archKeyword,
  type CompiledPath,
  compilePath,
  fixAtom,
  type GlsaMatcher,
  glsaAtomMatches,
  glsaAtoms,
} from "../../gentoo/glsa/match.js";
import { GlsaFormatError } from "../../gentoo/glsa/model.js";
import type { InstalledPackage } from "../../gentoo/vardb.js";
import { compareVersionsOrUndefined, parseVersion } from "../../gentoo/version.js";
import type { Finding, Severity } from "../advisory.js";
import type { DetectContext, DetectResult } from "../source.js";
import type { CorpusAdvisory, GlsaCorpus } from "./corpus.js";

export const GLSA_URL = "https://security.gentoo.org/glsa/";

/** GLSA impact types as severities: medium counts as normal, minimal as low. */
export function glsaSeverity(impact: string): Severity {
  if (impact === "high") return "high";
  if (impact === "low" || impact === "minimal") return "low";
  return "normal";
}

interface Indexed {
  advisory: CorpusAdvisory;
  path: number;
}

export interface GlsaDetector {
  packageNames: ReadonlySet<string>;
  detect(packages: readonly InstalledPackage[], context: DetectContext): DetectResult;
}

export function glsaDetector(corpus: GlsaCorpus): GlsaDetector {
  const index = new Map<string, Indexed[]>();
  for (const advisory of corpus.advisories)
    advisory.packageNames.forEach((name, path) => {
      const list = index.get(name) ?? [];
      list.push({ advisory, path });
      index.set(name, list);
    });
  return {
    packageNames: new Set(index.keys()),
    detect: (packages, context) => detect(index, packages, context),
  };
}

function detect(
  index: Map<string, Indexed[]>,
  packages: readonly InstalledPackage[],
  context: DetectContext,
): DetectResult {
  const keyword = archKeyword(context.arch);
  const byName = new Map<string, InstalledPackage[]>();
  for (const p of packages) {
    if (!index.has(p.cp)) continue;
    const list = byName.get(p.cp) ?? [];
    list.push(p);
    byName.set(p.cp, list);
  }
  const usable = new Map<string, boolean>();
  const compiled = new Map<string, CompiledPath | null>();
  const warnings = new Set<string>();
  const findings = new Map<string, Finding>();

  /** glsa-check checks every element's arch list before it matches anything. */
  const advisoryUsable = (a: CorpusAdvisory): boolean => {
    let ok = usable.get(a.id);
    if (ok !== undefined) return ok;
    try {
      for (const p of a.packages()) archApplies(a.id, p.arch, keyword);
      ok = true;
    } catch (e) {
      if (!(e instanceof GlsaFormatError)) throw e;
      warnings.add(`GLSA ${a.id} skipped: ${e.message}`);
      ok = false;
    }
    usable.set(a.id, ok);
    return ok;
  };
  /** Only the elements naming an installed package are compiled. */
  const compile = (a: CorpusAdvisory, i: number): CompiledPath | null => {
    const key = `${a.id}#${i}`;
    let path = compiled.get(key);
    if (path !== undefined) return path;
    try {
      path = compilePath(a.packages()[i]!);
    } catch (e) {
      if (!(e instanceof InvalidAtomError)) throw e;
      warnings.add(`GLSA ${a.id} skipped: ${e.message}`);
      usable.set(a.id, false);
      path = null;
    }
    compiled.set(key, path);
    return path;
  };

  for (const [cp, installed] of byName) {
    for (const { advisory, path: i } of index.get(cp)!) {
      if (!advisoryUsable(advisory)) continue;
      const path = compile(advisory, i);
      if (!path) continue;
      if (!archApplies(advisory.id, path.arch, keyword)) continue;
      for (const w of slotPitfalls(advisory.id, path, installed)) warnings.add(w);
      for (const pkg of installed) {
        const vulnerable = matching(path.vulnerable, pkg);
        const unaffected = matching(path.unaffected, pkg);
        for (const w of matchPitfalls(advisory.id, path, pkg, vulnerable, unaffected)) warnings.add(w);
        // glsa-check: in (∪ vulnerable) − (∪ unaffected) of this element
        if (vulnerable.length === 0 || unaffected.length > 0) continue;
        const key = `${advisory.id} ${pkg.cpv}`;
        const atoms = glsaAtoms({ packages: [path.element] })[0]!;
        const fix = fixAtom(path.element, pkg);
        const seen = findings.get(key);
        if (seen) {
          // the same package named twice in one GLSA: one finding, both elements' ranges
          seen.vulnerable.push(...atoms.vulnerable);
          seen.unaffected.push(...atoms.unaffected);
          seen.fix ??= fix;
          continue;
        }
        const glsa = advisory.summary();
        findings.set(key, {
          source: "glsa",
          id: advisory.id,
          title: glsa.title,
          severity: glsaSeverity(glsa.severity),
          package: cp,
          installed: pkg.cpv,
          slot:
            pkg.slot === undefined
              ? null
              : pkg.subSlot && pkg.subSlot !== pkg.slot
                ? `${pkg.slot}/${pkg.subSlot}`
                : pkg.slot,
          vulnerable: atoms.vulnerable,
          unaffected: atoms.unaffected,
          fix,
          cves: glsa.cves,
          url: `${GLSA_URL}${advisory.id}`,
        });
      }
    }
  }
  return { findings: [...findings.values()], warnings: [...warnings] };
}

const matching = (ms: GlsaMatcher[], pkg: InstalledPackage) => ms.filter((m) => glsaAtomMatches(m, pkg));
/** The version a matcher names, with its revision (`>=~cat/pkg-1.2-r3` → `1.2-r3`). */
const versionOf = (m: GlsaMatcher): string | undefined =>
  m.kind === "atom"
    ? (m.atom.version ?? undefined)
    : m.revision > 0n
      ? `${m.same.version}-r${m.revision}`
      : (m.same.version ?? undefined);
/** How many leading numeric version components two versions share (`550.100` and `550.127.05`: 1). */
function sharedComponents(a: string, b: string | undefined): number {
  const x = parseVersion(a)?.components ?? [];
  const y = (b && parseVersion(b)?.components) || [];
  let n = 0;
  while (n < x.length && n < y.length && BigInt(x[n]!) === BigInt(y[n]!)) n++;
  return n;
}

const operatorOf = (m: GlsaMatcher) => (m.kind === "atom" ? m.atom.operator : `${m.op}~`);

/** A slot that is really a version (201711-10 cacti slot="1.1.20"): nothing can ever match. */
function slotPitfalls(id: string, path: CompiledPath, installed: readonly InstalledPackage[]): string[] {
  const out: string[] = [];
  const element = path.element;
  const slots = new Set(installed.map((p) => p.slot).filter((s) => s !== undefined));
  for (const r of [...element.vulnerable, ...element.unaffected])
    if (r.slot && r.slot === r.version && slots.size > 0 && !slots.has(r.slot))
      out.push(
        `GLSA ${id}: ${element.name} range "${r.range} ${r.version}" is limited to slot "${r.slot}" (the version itself), which no installed package has (installed slots: ${[...slots].join(", ")}): glsa-check never matches it; check this advisory by hand`,
      );
  return out;
}

/** Warnings for the known ways GLSA ranges mislead glsa-check, seen on one installed package. */
function matchPitfalls(
  id: string,
  path: CompiledPath,
  pkg: InstalledPackage,
  vulnerable: GlsaMatcher[],
  unaffected: GlsaMatcher[],
): string[] {
  const out: string[] = [];
  // Multi-branch GLSA without slots (202412-20): the lowest ">=" covers newer branches too.
  // Flag a package excluded by the fix of another branch while its own branch's fix (the
  // unaffected bound sharing more leading components with it) is still ahead of it.
  const plain = (u: GlsaMatcher) => operatorOf(u) === ">=" || operatorOf(u) === ">";
  if (vulnerable.length > 0 && unaffected.length > 0 && unaffected.every(plain)) {
    const mine = Math.max(...unaffected.map((u) => sharedComponents(pkg.version, versionOf(u))));
    const ahead = path.unaffected.find(
      (u) =>
        plain(u) &&
        !unaffected.includes(u) &&
        (compareVersionsOrUndefined(versionOf(u) ?? "0", pkg.version) ?? 0) > 0 &&
        sharedComponents(pkg.version, versionOf(u)) > mine,
    );
    if (ahead)
      out.push(
        `GLSA ${id}: ${pkg.cpv} counts as unaffected through ${unaffected[0]!.text} (the fix of another branch) although its branch is fixed only in ${ahead.text}; glsa-check reports it as not affected: check by hand`,
      );
  }
  // rge/rgt are revision-only (202004-13): a later release of a fixed branch is still reported.
  // Flag it when the upgrade ranges nearest to the package's branch are r-ranges all below it.
  if (vulnerable.length > 0 && unaffected.length === 0) {
    const upgrades = path.unaffected.filter((u) => {
      const op = operatorOf(u);
      return op === ">=" || op === ">" || op === ">=~" || op === ">~";
    });
    const nearest = Math.max(-1, ...upgrades.map((u) => sharedComponents(pkg.version, versionOf(u))));
    const branch = upgrades.filter((u) => sharedComponents(pkg.version, versionOf(u)) === nearest);
    if (
      branch.length > 0 &&
      branch.every(
        (u) => u.kind === "revision" && (compareVersionsOrUndefined(pkg.version, versionOf(u)!) ?? 0) > 0,
      )
    )
      out.push(
        `GLSA ${id}: ${pkg.cpv} is reported although it is newer than the fixed ${branch[0]!.text.trimStart()}: r-ranges only cover revisions of that one version; it may be a false positive`,
      );
  }
  // "=V" without revision does not match V-rN (202511-07): a rebuilt vulnerable version passes.
  if (vulnerable.length === 0 && unaffected.length === 0) {
    const base = parseCpv(pkg.cpv)?.baseVersion;
    const near = path.vulnerable.find(
      (m) => m.kind === "atom" && m.atom.operator === "=" && parseCpv(m.atom.cpv)?.baseVersion === base,
    );
    if (near)
      out.push(
        `GLSA ${id}: ${pkg.cpv} differs from vulnerable ${near.text} only in its revision; glsa-check does not report it: check whether the revision carries the fix`,
      );
  }
  return out;
}
