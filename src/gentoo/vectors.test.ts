/**
 * Every vector in ../shared/data/vectors, one test case each, named after its upstream source.
 * Where upstreams disagree the vector's `portage_*` field (what Portage itself answers) is
 * the expectation.
 */
import { describe, expect, it } from "vitest";
import { readVectors } from "../../test/helpers/shared-data.js";
import { InvalidAtomError, isJustName, isValidAtom, parseAtom } from "./atom.js";
import { catpkgsplit, cpvequal, isValidCategory } from "./cpv.js";
import { bestMatchToList, type Candidate, matchFromList } from "./match.js";
import { vercmp } from "./version.js";

interface AtomVector {
  atom: string;
  allow_wildcard: boolean;
  allow_repo: boolean | null;
  allow_blockers: boolean;
  allow_build_id?: boolean;
  eapi?: string | null;
  expect?: Record<string, string | null>;
  source: string;
  portage_isvalidatom: boolean;
}

const atomOptions = (v: AtomVector) => ({
  allowWildcard: v.allow_wildcard,
  allowRepo: v.allow_repo,
  allowBlockers: v.allow_blockers,
  allowBuildId: v.allow_build_id ?? false,
  eapi: v.eapi ?? null,
});

describe("vercmp.json", () => {
  const vectors = readVectors<[string, string, number, string][]>("vercmp.json");
  vectors.forEach(([a, b, expected, source], i) => {
    it(`${source} #${i}: ${a} vs ${b}`, () => {
      expect(vercmp(a, b)).toBe(Math.sign(expected));
      expect(vercmp(b, a)).toBe(-Math.sign(expected) || 0);
    });
  });
});

describe("atoms_valid.json", () => {
  const vectors = readVectors<AtomVector[]>("atoms_valid.json");
  vectors.forEach((v, i) => {
    it(`${v.source} #${i}: ${v.atom}`, () => {
      expect(isValidAtom(v.atom, atomOptions(v))).toBe(v.portage_isvalidatom);
      if (!v.expect) return;
      const atom = parseAtom(v.atom, atomOptions(v));
      const got: Record<string, string | null> = {
        operator: atom.operator,
        cp: atom.cp,
        cpv: atom.cpv,
        slot: atom.slot,
        sub_slot: atom.subSlot,
        slot_operator: atom.slotOperator,
        use: atom.use ? `[${atom.use.tokens.join(",")}]` : null,
        repo: atom.repo,
      };
      for (const [key, value] of Object.entries(v.expect)) expect(got[key], key).toBe(value);
    });
  });
});

describe("atoms_invalid.json", () => {
  const vectors = readVectors<AtomVector[]>("atoms_invalid.json");
  vectors.forEach((v, i) => {
    it(`${v.source} #${i}: ${JSON.stringify(v.atom)}`, () => {
      expect(isValidAtom(v.atom, atomOptions(v))).toBe(v.portage_isvalidatom);
    });
  });
});

describe("catpkgsplit.json", () => {
  const vectors =
    readVectors<{ input: string; source: string; portage_catpkgsplit: string[] | null }[]>(
      "catpkgsplit.json",
    );
  vectors.forEach((v, i) => {
    it(`${v.source} #${i}: ${v.input}`, () => {
      expect(catpkgsplit(v.input)).toEqual(v.portage_catpkgsplit);
    });
  });
});

interface MatchVector {
  atom: string;
  candidates: Candidate[];
  source: string;
  portage_result: string[] | string;
}

const candidateLabel = (c: Candidate) => (typeof c === "string" ? c : c.repo ? `${c.cpv}::${c.repo}` : c.cpv);

describe("match_from_list.json", () => {
  const vectors = readVectors<MatchVector[]>("match_from_list.json").map((v) => ({
    ...v,
    candidates: v.candidates.map((c) =>
      typeof c === "string"
        ? c
        : ({ ...(c as object), subSlot: (c as { sub_slot?: string }).sub_slot } as Candidate),
    ),
  }));
  vectors.forEach((v, i) => {
    it(`${v.source} #${i}: ${v.atom}`, () => {
      if (typeof v.portage_result === "string") {
        expect(v.portage_result).toMatch(/^error:InvalidAtom/);
        expect(() => matchFromList(v.atom, v.candidates)).toThrow(InvalidAtomError);
        return;
      }
      expect(matchFromList(v.atom, v.candidates).map(candidateLabel)).toEqual(v.portage_result);
    });
  });
});

interface Misc {
  cpvequal: [string, string, boolean | "error", string][];
  isjustname: [string, boolean, string][];
  dep_getcpv: [string, string, string][];
  get_operator: [string, string | null, string][];
  best_match_order: {
    pkg: string;
    atoms: string[];
    expected_order: string[];
    order_independent: boolean;
    source: string;
  }[];
}

describe("misc_predicates.json", () => {
  const misc = readVectors<Misc>("misc_predicates.json");
  misc.cpvequal.forEach(([a, b, expected, source], i) => {
    it(`${source} #${i}: cpvequal(${a}, ${b})`, () => {
      if (expected === "error") expect(() => cpvequal(a, b)).toThrow();
      else expect(cpvequal(a, b)).toBe(expected);
    });
  });
  misc.isjustname.forEach(([s, expected, source], i) => {
    it(`${source} #${i}: isjustname(${s})`, () => expect(isJustName(s)).toBe(expected));
  });
  misc.dep_getcpv.forEach(([s, expected, source], i) => {
    it(`${source} #${i}: dep_getcpv(${s})`, () => expect(parseAtom(s).cpv).toBe(expected));
  });
  misc.get_operator.forEach(([s, expected, source], i) => {
    it(`${source} #${i}: get_operator(${s})`, () => expect(parseAtom(s).operator).toBe(expected));
  });
  misc.best_match_order.forEach((v, i) => {
    it(`${v.source} #${i}: best_match_to_list(${v.pkg})`, () => {
      const orders = v.order_independent ? [v.atoms, [...v.atoms].reverse()] : [v.atoms];
      for (const atoms of orders) {
        const remaining = [...atoms];
        const order: string[] = [];
        for (;;) {
          const best = bestMatchToList(v.pkg, remaining);
          if (!best) break;
          order.push(best.text);
          remaining.splice(remaining.indexOf(best.text), 1);
        }
        expect(order).toEqual(v.expected_order);
      }
    });
  });
});

/**
 * pkgcore's component lists (tests/ebuild/test_cpv.py): categories, names, versions and revisions
 * each valid or not, combined into atoms. pkgcore and Portage disagree on an upper-case version
 * letter: Portage's version has `[a-z]?` (so `3D` is no version, and `a-3D` is a valid name); the
 * expectation is Portage's.
 */
describe("cpv_component_lists.json", () => {
  const lists = readVectors<Record<string, string[]>>("cpv_component_lists.json");
  const PORTAGE_DIFFERS = { goodVers: new Set(["3D"]), badPkgs: new Set(["a-3D"]) };
  const valid = (atom: string) =>
    isValidAtom(atom, { allowWildcard: false, allowRepo: false, allowBlockers: false });
  for (const cat of lists.good_cats!)
    it(`pkgcore test_cpv good_cats: ${JSON.stringify(cat)}`, () => {
      expect(isValidCategory(cat)).toBe(true);
      expect(valid(`${cat}/diffball`)).toBe(true);
    });
  for (const cat of lists.bad_cats!)
    it(`pkgcore test_cpv bad_cats: ${JSON.stringify(cat)}`, () => {
      expect(isValidCategory(cat) && valid(`${cat}/diffball`)).toBe(false);
    });
  for (const pkg of lists.good_pkgs!)
    it(`pkgcore test_cpv good_pkgs: ${JSON.stringify(pkg)}`, () => {
      expect(valid(`dev-util/${pkg}`)).toBe(true);
      expect(valid(`=dev-util/${pkg}-1.0-r1`)).toBe(true);
    });
  for (const pkg of lists.bad_pkgs!)
    it(`pkgcore test_cpv bad_pkgs: ${JSON.stringify(pkg)}${PORTAGE_DIFFERS.badPkgs.has(pkg) ? " (valid for Portage)" : ""}`, () => {
      expect(valid(`dev-util/${pkg}`)).toBe(PORTAGE_DIFFERS.badPkgs.has(pkg));
    });
  for (const cp of lists.good_cp!)
    it(`pkgcore test_cpv good_cp: ${cp}`, () => {
      expect(valid(cp)).toBe(true);
      expect(catpkgsplit(`${cp}-1`)).toEqual([...cp.split("/"), "1", "r0"]);
    });
  for (const ver of lists.good_vers!)
    for (const rev of lists.good_revs!)
      it(`pkgcore test_cpv good_vers × good_revs: ${ver}${rev}${PORTAGE_DIFFERS.goodVers.has(ver) ? " (no version for Portage)" : ""}`, () => {
        expect(valid(`=dev-util/diffball-${ver}${rev}`)).toBe(!PORTAGE_DIFFERS.goodVers.has(ver));
      });
  for (const ver of lists.bad_vers!)
    it(`pkgcore test_cpv bad_vers: ${JSON.stringify(ver)}`, () => {
      expect(valid(`=dev-util/diffball-${ver}`)).toBe(false);
    });
  for (const [i, rev] of lists.bad_revs!.entries())
    it(`pkgcore test_cpv bad_revs #${i}: ${JSON.stringify(rev)}`, () => {
      expect(valid(`=dev-util/diffball-1${rev}`)).toBe(false);
    });
});
