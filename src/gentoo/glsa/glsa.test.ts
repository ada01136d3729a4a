import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GLSA_DIR, readVectors } from "../../../test/helpers/shared-data.js";
import type { PackageCandidate } from "../match.js";
import {
  archApplies,
  compileGlsa,
  compileGlsaAtom,
  compileRange,
  fixAtom,
  glsaAtoms,
  glsaHits,
  isGlsaAffecting,
  rangeAtom,
} from "./match.js";
import { type Glsa, GlsaFormatError, type GlsaPackage, parseGlsa, versionRange } from "./parse.js";

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");

interface RangeSpec {
  range: string;
  version: string;
  slot?: string;
}

/** A one-package GLSA built from a vector's ranges. */
function glsaOf(pkg: string, vulnerable: RangeSpec[], unaffected: RangeSpec[], arch = "*"): Glsa {
  const element: GlsaPackage = {
    name: pkg,
    arch,
    auto: true,
    vulnerable: vulnerable.map((r) => versionRange(pkg, r.range, r.version, r.slot)),
    unaffected: unaffected.map((r) => versionRange(pkg, r.range, r.version, r.slot)),
  };
  return {
    id: "000000-00",
    title: "",
    synopsis: "",
    productType: "ebuild",
    product: "",
    announced: "",
    revised: "",
    revisedCount: 1,
    bugs: [],
    access: "",
    packages: [element],
    severity: "normal",
    resolution: "",
    references: [],
    cves: [],
  };
}

/** `version` or `version:slot` (slot default 0) as an installed package. */
function installed(pkg: string, key: string): PackageCandidate {
  const colon = key.indexOf(":");
  const version = colon === -1 ? key : key.slice(0, colon);
  return { cpv: `${pkg}-${version}`, slot: colon === -1 ? "0" : key.slice(colon + 1) };
}

const asList = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

interface RangeVector {
  package: string;
  arch?: string;
  vulnerable?: RangeSpec | RangeSpec[];
  unaffected?: RangeSpec[];
  glsas?: { vulnerable: RangeSpec[]; unaffected: RangeSpec[] }[];
  installed_vulnerable?: (string | { version: string; slot: string })[];
  expect_error?: string;
  source: string;
  portage_vulnerable?: Record<string, boolean>;
}

describe("glsa_ranges.json", () => {
  readVectors<RangeVector[]>("glsa_ranges.json").forEach((v, i) => {
    it(`${v.source} #${i}: ${v.package}`, () => {
      const build = () =>
        v.glsas
          ? v.glsas.map((g) => glsaOf(v.package, g.vulnerable, g.unaffected))
          : [glsaOf(v.package, asList(v.vulnerable), asList(v.unaffected), v.arch)];
      if (v.expect_error) {
        expect(v.expect_error).toBe("GlsaFormatException");
        expect(() => build().map((g) => isGlsaAffecting(g, [installed(v.package, "2.1")], "amd64"))).toThrow(
          GlsaFormatError,
        );
        return;
      }
      const glsas = build();
      for (const [key, want] of Object.entries(v.portage_vulnerable!)) {
        const pkg = installed(v.package, key);
        expect(
          glsas.some((g) => isGlsaAffecting(g, [pkg], "amd64")),
          key,
        ).toBe(want);
      }
    });
  });
});

interface Scenario {
  source: string;
  package: string;
  vulnerable: RangeSpec[];
  unaffected: RangeSpec[];
  portage_atoms: { vulnerable: string[]; unaffected: string[] };
  expected_vulnerable_by_portage: Record<string, boolean>;
}

describe("glsa_scenarios_portage_derived.json", () => {
  readVectors<Scenario[]>("glsa_scenarios_portage_derived.json").forEach((v, i) => {
    it(`${v.source} #${i}: ${v.package}`, () => {
      const glsa = glsaOf(v.package, v.vulnerable, v.unaffected);
      expect(glsaAtoms(glsa)[0]).toMatchObject(v.portage_atoms);
      for (const [key, want] of Object.entries(v.expected_vulnerable_by_portage))
        expect(isGlsaAffecting(glsa, [installed(v.package, key)], "amd64"), key).toBe(want);
    });
  });
});

describe("the GLSA corpus (../shared/data/glsa)", () => {
  const files = readdirSync(GLSA_DIR).filter((f) => /^glsa-.*\.xml$/.test(f));
  const corpus = new Map<string, Glsa>();
  for (const f of files)
    corpus.set(f.slice(5, -4), parseGlsa(readFileSync(`${GLSA_DIR}/${f}`, "utf8"), f.slice(5, -4)));

  it("parses all 3,817 advisories", () => {
    expect(files.length).toBe(3817);
    expect(corpus.size).toBe(3817);
  });

  it("builds the 10,861 atoms Portage builds, with its operator counts", () => {
    const ops = new Map<string, number>();
    let total = 0;
    for (const g of corpus.values())
      for (const p of glsaAtoms(g))
        for (const a of [...p.vulnerable, ...p.unaffected]) {
          const op = /^[<>=~]+/.exec(a)![0];
          ops.set(op, (ops.get(op) ?? 0) + 1);
          total++;
        }
    expect(total).toBe(10861);
    expect(Object.fromEntries(ops)).toEqual({
      "<": 4788,
      ">=": 4964,
      "<=": 292,
      "=": 49,
      ">": 7,
      ">=~": 752,
      "<=~": 5,
      ">~": 4,
    });
    // every atom compiles (Portage: 0 invalid atoms), and the regex-free path builds exactly
    // the atom that parsing its text gives
    for (const g of corpus.values())
      for (const p of g.packages)
        for (const r of [...p.vulnerable, ...p.unaffected]) {
          const m = compileRange(p.name, r);
          expect(m).toEqual(compileGlsaAtom(rangeAtom(p.name, r)));
        }
  });

  it("reads the fields of 202506-05 (slot inside the version text)", () => {
    const g = corpus.get("202506-05")!;
    expect(g).toMatchObject({
      id: "202506-05",
      title: "GTK+ 3: Search path vulnerability",
      productType: "ebuild",
      product: "gtk+",
      announced: "2025-06-12",
      revised: "2025-06-12",
      revisedCount: 2,
      bugs: ["949825"],
      access: "local",
      severity: "high",
      cves: ["CVE-2024-6655"],
    });
    expect(g.packages).toEqual([
      {
        name: "x11-libs/gtk+",
        arch: "*",
        auto: true,
        vulnerable: [{ range: "lt", version: "3.24.48", slot: "3", text: "3.24.48:3" }],
        unaffected: [{ range: "ge", version: "3.24.48", slot: "3", text: "3.24.48:3" }],
      },
    ]);
    expect(g.resolution).toContain('# emerge --ask --oneshot --verbose ">=x11-libs/gtk+-3.24.48:3"');
  });

  it("keeps infrastructure advisories without packages (200312-01) and repeated package elements", () => {
    expect(corpus.get("200312-01")).toMatchObject({ productType: "infrastructure", packages: [] });
    const repeated = [...corpus.values()].filter(
      (g) => new Set(g.packages.map((p) => p.name)).size < g.packages.length,
    );
    expect(repeated.map((g) => g.id).sort()).toEqual([
      "200403-13",
      "200405-04",
      "200408-16",
      "200409-34",
      "200605-08",
    ]);
  });

  it("collects every CVE of an advisory, not only the first per reference", () => {
    const file = readFileSync(`${GLSA_DIR}/glsa-202402-08.xml`, "utf8");
    const inFile = new Set(file.match(/CVE-\d{4}-\d{4,}/g));
    const g = corpus.get("202402-08")!;
    expect(g.cves.length).toBeGreaterThan(1);
    expect(new Set(g.cves)).toEqual(inFile);
    // across the corpus: exactly the ids written anywhere in <references>, old CAN- ids as CVE-
    for (const [id, glsa] of corpus) {
      const xml = readFileSync(`${GLSA_DIR}/glsa-${id}.xml`, "utf8");
      const refs = xml.slice(xml.indexOf("<references>"), xml.indexOf("</references>"));
      const ids = new Set(
        [...refs.matchAll(/(?:CVE|CAN)-(\d{4})-(\d{4,})/g)].map((m) => `CVE-${m[1]}-${m[2]}`),
      );
      expect(new Set(glsa.cves), id).toEqual(ids);
    }
    expect([...corpus.values()].filter((x) => x.cves.length > 0).length).toBe(3687);
  });

  it("agrees with Portage's verdict on the real pitfall advisories", () => {
    const nvidia = compileGlsa(corpus.get("202412-20")!);
    const hit = (paths: ReturnType<typeof compileGlsa>, cpv: string, slot = "0") =>
      glsaHits("x", paths, [{ cpv, slot }], "amd64").length > 0;
    expect(hit(nvidia, "x11-drivers/nvidia-drivers-535.183.01", "0/535")).toBe(true);
    expect(hit(nvidia, "x11-drivers/nvidia-drivers-550.100", "0/550")).toBe(false);
    const git = compileGlsa(corpus.get("202004-13")!);
    expect(hit(git, "dev-vcs/git-2.23.3-r1")).toBe(false);
    expect(hit(git, "dev-vcs/git-2.23.4")).toBe(true);
    const cacti = compileGlsa(corpus.get("201711-10")!);
    expect(cacti[0]!.element.vulnerable[0]!.slot).toBe("1.1.20");
    expect(hit(cacti, "net-analyzer/cacti-1.1.19")).toBe(false);
  });
});

describe("GLSA fixtures (src/gentoo/glsa/testdata)", () => {
  const glsa = parseGlsa(fixture("glsa-209901-01.xml"), "209901-01");

  it("parses every field, decoding entities and collapsing white space like getText", () => {
    expect(glsa).toMatchObject({
      title: "Foo & Bar: Multiple vulnerabilities",
      synopsis: "Several vulnerabilities were found in foo.",
      revisedCount: 3,
      bugs: ["100001", "100002"],
      severity: "high",
      cves: ["CVE-2099-0001", "CVE-2099-10002", "CVE-2004-0001"],
    });
    expect(glsa.references[0]).toEqual({
      text: "CVE-2099-0001",
      link: "https://nvd.nist.gov/vuln/detail/CVE-2099-0001",
    });
    expect(glsa.resolution).toBe(
      "All foo users should upgrade to the latest version:\n\n# emerge --sync\n" +
        '# emerge --ask --oneshot --verbose ">=dev-libs/foo-1.2.3"\n\nGentoo has discontinued support for bar.',
    );
    expect(glsaAtoms(glsa)).toEqual([
      {
        pkg: "dev-libs/foo",
        arch: "*",
        auto: true,
        vulnerable: ["<dev-libs/foo-1.2.3:1", "<dev-libs/foo-1.1.0-r2"],
        unaffected: [">=dev-libs/foo-1.2.3:1", ">=~dev-libs/foo-1.1.0-r2"],
      },
      {
        pkg: "dev-libs/bar",
        arch: "x86 amd64",
        auto: false,
        vulnerable: ["<dev-libs/bar-2.0:2"],
        unaffected: [],
      },
    ]);
  });

  it("matches per element, with slots, revision ranges and the arch filter", () => {
    const paths = compileGlsa(glsa);
    const pkgs: PackageCandidate[] = [
      { cpv: "dev-libs/foo-1.2.2", slot: "1" }, // hit: < 1.2.3 in slot 1
      { cpv: "dev-libs/foo-1.1.0-r3", slot: "0" }, // rge 1.1.0-r2: unaffected
      { cpv: "dev-libs/foo-1.1.0-r1", slot: "0" }, // hit
      { cpv: "dev-libs/bar-1.9", slot: "2" }, // hit on amd64 only: no unaffected range
      { cpv: "dev-libs/bar-1.9", slot: "1" }, // other slot
    ];
    const amd64 = glsaHits(glsa.id, paths, pkgs, "amd64").map((h) => h.pkg.cpv + ":" + h.pkg.slot);
    expect(amd64).toEqual(["dev-libs/foo-1.2.2:1", "dev-libs/foo-1.1.0-r1:0", "dev-libs/bar-1.9:2"]);
    expect(glsaHits(glsa.id, paths, pkgs, "arm64").map((h) => h.pkg.cpv)).toEqual([
      "dev-libs/foo-1.2.2",
      "dev-libs/foo-1.1.0-r1",
    ]);
  });

  it("names the smallest unaffected range that is an upgrade as the fix", () => {
    const foo = glsa.packages[0]!;
    expect(fixAtom(foo, { cpv: "dev-libs/foo-1.2.2", slot: "1" })).toBe(">=dev-libs/foo-1.2.3:1");
    // a revision range is not widened to >= (1.2.0 may well be vulnerable)
    expect(fixAtom(foo, { cpv: "dev-libs/foo-1.1.0-r1", slot: "0" })).toBe(">=~dev-libs/foo-1.1.0-r2");
    expect(fixAtom(glsa.packages[1]!, { cpv: "dev-libs/bar-1.9", slot: "2" })).toBeNull();
    expect(rangeAtom("a/b", versionRange("a/b", "rgt", "1-r1"))).toBe(">~a/b-1-r1");
  });

  it("names a revision range from revision 0 as the ~ atom emerge accepts (GLSA 202004-13: git 2.24.3-rN)", () => {
    const range = (r: "rge" | "ge" | "lt", version: string) => ({
      range: r,
      version,
      slot: null,
      text: version,
    });
    const git = {
      name: "dev-vcs/git",
      arch: "*",
      auto: true,
      vulnerable: [range("lt", "2.26.1")],
      unaffected: [range("rge", "2.24.3"), range("rge", "2.25.4-r0"), range("ge", "2.26.1")],
    };
    expect(fixAtom(git, { cpv: "dev-vcs/git-2.23.4", slot: "0" })).toBe("~dev-vcs/git-2.24.3");
    expect(fixAtom(git, { cpv: "dev-vcs/git-2.25.0", slot: "0" })).toBe("~dev-vcs/git-2.25.4");
    expect(fixAtom(git, { cpv: "dev-vcs/git-2.26.0", slot: "0" })).toBe(">=dev-vcs/git-2.26.1");
  });

  it.each([
    ["invalid-doctype.xml", /wrong DOCTYPE/],
    ["invalid-count.xml", /count attribute is missing/],
    ["invalid-range.xml", /invalid range found for 'dev-libs\/bar': None/],
    ["invalid-package.xml", /invalid package name/],
    [
      "invalid-xml.xml",
      /not well-formed XML: line 23, column 14: unexpected close tag; unmatched closing tag: affectedx/,
    ],
    ["invalid-slot-twice.xml", /slot given twice/],
  ])("rejects %s", (file, message) => {
    expect(() => parseGlsa(fixture(file), "209901-01")).toThrow(message);
  });

  it("reads the XML as expat (minidom) does: strict well-formedness, undefined entities skipped", () => {
    const valid = fixture("glsa-209901-01.xml");
    const edit = (from: string, to: string) => {
      expect(valid).toContain(from);
      return valid.replace(from, to);
    };
    const title = "<title>Foo &amp; Bar: Multiple vulnerabilities</title>";
    // the DTD is external and not read: expat skips an entity it does not know, in text and attributes
    expect(parseGlsa(edit(title, "<title>Foo &nbsp;&amp; Bar</title>"), "209901-01").title).toBe("Foo & Bar");
    expect(parseGlsa(edit(title, "<title>&#x46;oo &#62; &lt;Bar&gt;</title>"), "209901-01").title).toBe(
      "Foo > <Bar>",
    );
    for (const [broken, message] of [
      [edit(title, "<title>Foo ]]> Bar</title>"), /line 4, column \d+: the string "\]\]>" is disallowed/],
      [edit(title, "<title>Foo &#1; Bar</title>"), /malformed character entity/],
      [edit("<title>", '<title a="1" a="2">'), /duplicate attribute: a/],
      [`${valid}<glsa/>`, /documents may contain only one root/],
    ] as const)
      expect(() => parseGlsa(broken, "209901-01")).toThrow(message);
  });

  it("rejects an id that differs from the file name, and a malformed arch list when matching", () => {
    expect(() => parseGlsa(fixture("glsa-209901-01.xml"), "209901-02")).toThrow(/don't match/);
    const g = parseGlsa(fixture("invalid-arch.xml"), "209901-01");
    expect(() => archApplies(g.id, g.packages[1]!.arch, "amd64")).toThrow(/Unrecognized arch list/);
  });
});
