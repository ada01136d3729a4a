/**
 * EESSI's EessiSetInstalledTest, fixed: every atom of the layer's package sets (and the spec's
 * packages) matches an installed package, with atoms parsed and matched by the Gentoo core (EESSI
 * pasted each atom into a regex over `qlist -IRv`, so `=sys-apps/archspec-0.2.1` was "installed"
 * when 0.2.10 was). Debian: each package of the spec is installed according to dpkg.
 */
import { readDpkgStatus } from "../../debian/status.js";
import { flavorHas } from "../../flavors/index.js";
import { type Atom, parseAtom } from "../../gentoo/atom.js";
import { matchFromList } from "../../gentoo/match.js";
import { readVardb, type VardbPackage } from "../../gentoo/vardb.js";
import { nameProblem } from "../../paths/rules.js";
import { vardbDir } from "../portage-files.js";
import { SETS_NOT_KNOWN } from "../target.js";
import { type Check, type CheckContext, capped, fail, pass } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

export interface SetAtom {
  atom: string;
  /** The set file (layer path) or `the spec` it comes from, with the line. */
  from: string;
}

/**
 * The atoms of a Portage set file, following `@set` references to other sets in the same
 * directory. Comments and blank lines are skipped.
 */
export function readSetAtoms(
  ctx: CheckContext,
  name: string,
  seen = new Set<string>(),
): { atoms: SetAtom[]; missing: string[]; invalid: string[] } {
  const file = ctx.fs.abs(`etc/portage/sets/${name}`);
  if (seen.has(name)) return { atoms: [], missing: [], invalid: [] };
  seen.add(name);
  const text = ctx.fs.readText(file);
  if (text === undefined) return { atoms: [], missing: [file], invalid: [] };
  const atoms: SetAtom[] = [];
  const missing: string[] = [];
  const invalid: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    if (line.startsWith("@")) {
      const unsafe = nameProblem(line.slice(1));
      if (unsafe) {
        // a set is a file of etc/portage/sets itself: "@../x" would read outside it
        invalid.push(`${file}:${i + 1}: set name ${JSON.stringify(line.slice(1))} ${unsafe.message}`);
        return;
      }
      const sub = readSetAtoms(ctx, line.slice(1), seen);
      atoms.push(...sub.atoms);
      missing.push(...sub.missing);
      invalid.push(...sub.invalid);
    } else atoms.push({ atom: line, from: `${file}:${i + 1}` });
  });
  return { atoms, missing, invalid };
}

export type AtomVerdict = { ok: true; matched: string[] } | { ok: false; reason: string; matched: string[] };

/** Whether `text` (an atom) is satisfied by the installed packages: matched, or for a blocker, not matched. */
export function atomInstalled(text: string, installed: readonly VardbPackage[]): AtomVerdict {
  let atom: Atom;
  try {
    atom = parseAtom(text, { allowRepo: true, allowBlockers: true, allowWildcard: true });
  } catch (e) {
    return {
      ok: false,
      reason: `not a valid atom (${e instanceof Error ? e.message : String(e)})`,
      matched: [],
    };
  }
  const matched = matchFromList(atom, installed).map((p) => `${p.cpv}${p.repo ? `::${p.repo}` : ""}`);
  if (atom.blocker)
    return matched.length === 0
      ? { ok: true, matched }
      : { ok: false, reason: "blocked package installed", matched };
  if (matched.length > 0) return { ok: true, matched };
  const sameName = installed
    .filter((p) => p.cp === atom.cp)
    .map((p) => `${p.cpv}${p.repo ? `::${p.repo}` : ""}`);
  return {
    ok: false,
    reason: sameName.length > 0 ? `not installed (installed: ${sameName.join(", ")})` : "not installed",
    matched: [],
  };
}

export const setInstalled: Check = {
  id: "set-installed",
  title: "Every package the layer is built from is installed",
  proves:
    "gentoo: each atom of the layer's sets and of the spec's packages matches an installed package of the vardb, by Portage's matching rules (versions, slots, ::repo); debian: each package of the spec is installed according to dpkg",
  versions: ALL_VERSIONS,
  eessi: "EessiSetInstalledTest",
  skipReason(ctx) {
    if (!flavorHas(ctx.target.flavor, "portage")) {
      if (!ctx.target.layer) return "no spec given: the layer's packages are not known";
      return (ctx.target.layer.spec.debian?.packages.length ?? 0) === 0
        ? "the spec lists no package"
        : undefined;
    }
    if (ctx.target.sets.length === 0 && ctx.target.packageAtoms.length === 0)
      return ctx.target.layer ? "the spec installs no set and no package" : SETS_NOT_KNOWN;
    return undefined;
  },
  async run(ctx) {
    if (!flavorHas(ctx.target.flavor, "portage")) return debianPackagesInstalled(ctx);
    const atoms: SetAtom[] = ctx.target.packageAtoms.map((atom) => ({
      atom,
      from: "the spec's gentoo.packages",
    }));
    const missingSets: string[] = [];
    const invalidRefs: string[] = [];
    for (const set of ctx.target.sets) {
      const r = readSetAtoms(ctx, set);
      atoms.push(...r.atoms);
      missingSets.push(...r.missing);
      invalidRefs.push(...r.invalid);
    }
    const vardb = readVardb(vardbDir(ctx.target.localPrefix), { fields: ["SLOT", "repository"] });
    const bad: string[] = [];
    const files = new Set<string>(missingSets);
    for (const a of atoms) {
      const v = atomInstalled(a.atom, vardb.packages);
      if (!v.ok) {
        bad.push(`${a.atom} (${a.from}): ${v.reason}`);
        files.add(a.from.includes(":") ? a.from.slice(0, a.from.lastIndexOf(":")) : a.from);
      }
    }
    const evidence = {
      read: [
        ...ctx.target.sets.map((s) => ctx.fs.abs(`etc/portage/sets/${s}`)),
        `${ctx.fs.abs("var/db/pkg")} (${vardb.packages.length} packages)`,
      ],
      expected: `every atom of ${[
        ...ctx.target.sets.map((s) => `@${s}`),
        ctx.target.packageAtoms.length > 0 ? "the spec's packages" : "",
      ]
        .filter(Boolean)
        .join(" and ")} installed${ctx.target.setsFrom ? ` (${ctx.target.setsFrom})` : ""}`,
    };
    const vardbNotes = vardb.problems.map((p) => `vardb: ${p.path}: ${p.message}`);
    if (missingSets.length > 0) bad.unshift(...missingSets.map((f) => `${f}: set file missing`));
    bad.unshift(...invalidRefs);
    if (bad.length === 0)
      return pass({
        ...evidence,
        found: `${atoms.length} atoms, all installed`,
        details: capped(vardbNotes),
      });
    return fail({
      ...evidence,
      found: `${bad.length} of ${atoms.length + missingSets.length + invalidRefs.length} not satisfied`,
      files: [...files],
      details: capped([...bad, ...vardbNotes]),
    });
  },
};

/** The debian flavor's "set": the spec's packages, each installed according to dpkg's status database. */
async function debianPackagesInstalled(ctx: CheckContext) {
  const wanted = ctx.target.layer?.spec.debian?.packages ?? [];
  const status = ctx.fs.abs("var/lib/dpkg/status");
  const db = await readDpkgStatus(ctx.target.localPrefix);
  const names = new Set(db.packages.map((p) => p.name));
  const missing = wanted.filter((p) => !names.has(p));
  const evidence = {
    read: [`${status} (${db.packages.length} installed packages)`],
    expected: `the spec's packages installed: ${wanted.join(", ")}`,
  };
  if (missing.length === 0) return pass({ ...evidence, found: `all ${wanted.length} installed` });
  return fail({
    ...evidence,
    found: `not installed: ${missing.join(", ")}`,
    files: [status],
    details: missing.map((p) => `${p}: no installed stanza in ${status}`),
  });
}
