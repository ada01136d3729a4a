import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  compareVersionPart,
  compareVersions,
  type DebianVersion,
  formatVersion,
  InvalidVersionError,
  isRelation,
  isValidVersion,
  parseVersion,
  satisfies,
} from "./version.js";

interface VersionObject {
  epoch: number;
  upstream: string | null;
  revision: string | null;
}
interface Vectors {
  compareStrings: { a: string; b: string; expected: -1 | 0 | 1; source: string }[];
  compareObjects: { a: VersionObject; b: VersionObject; expected: -1 | 0 | 1 | "nonzero"; source: string }[];
  relate: { a: VersionObject; relation: string; b: VersionObject; expected: boolean; source: string }[];
  parse: { input: string; expected: VersionObject; source: string }[];
  invalid: { input: string; severity: "error" | "warning"; source: string }[];
  sort: { function: string; unsorted: string[]; expected: string[]; source: string }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("./testdata/dpkg-version-vectors.json", import.meta.url), "utf8"),
) as Vectors;

const asVersion = (o: VersionObject): DebianVersion => ({
  epoch: o.epoch,
  upstream: o.upstream ?? "",
  revision: o.revision ?? "",
});

const RELATION_OPS = ["<", "<<", "lt", "<=", "le", "=", "eq", ">=", "ge", ">", ">>", "gt"] as const;
/** The truth table of scripts/t/Dpkg_Version.t (`$truth`). */
const TRUTH: Record<string, Record<(typeof RELATION_OPS)[number], boolean>> = {
  "-1": {
    "<<": true,
    lt: true,
    "<=": true,
    le: true,
    "<": true,
    "=": false,
    eq: false,
    ">=": false,
    ge: false,
    ">": false,
    ">>": false,
    gt: false,
  },
  "0": {
    "<<": false,
    lt: false,
    "<=": true,
    le: true,
    "<": true,
    "=": true,
    eq: true,
    ">=": true,
    ge: true,
    ">": true,
    ">>": false,
    gt: false,
  },
  "1": {
    "<<": false,
    lt: false,
    "<=": false,
    le: false,
    "<": false,
    "=": false,
    eq: false,
    ">=": true,
    ge: true,
    ">": true,
    ">>": true,
    gt: true,
  },
};

describe("dpkg version comparison (vectors from dpkg's test suites)", () => {
  it("has vectors of every kind", () => {
    expect(vectors.compareStrings.length).toBeGreaterThan(40);
    expect(vectors.invalid.length).toBeGreaterThan(60);
    for (const list of Object.values(vectors).filter(Array.isArray))
      for (const v of list as { source: string }[])
        expect(v.source).toMatch(/^guillemj\/dpkg@[0-9a-f]{12} \S+:\d+ /);
  });

  for (const v of vectors.compareStrings) {
    it(`${v.a} cmp ${v.b} = ${v.expected}  [${v.source}]`, () => {
      expect(isValidVersion(v.a)).toBe(true);
      expect(isValidVersion(v.b)).toBe(true);
      expect(compareVersions(v.a, v.b)).toBe(v.expected);
      expect(compareVersions(v.b, v.a)).toBe(-v.expected || 0);
      for (const op of RELATION_OPS)
        expect(satisfies(v.a, op, v.b), `${v.a} ${op} ${v.b}`).toBe(TRUTH[String(v.expected)]![op]);
    });
  }

  for (const v of vectors.compareObjects) {
    it(`compare ${JSON.stringify(v.a)} ${JSON.stringify(v.b)}  [${v.source}]`, () => {
      const r = compareVersions(asVersion(v.a), asVersion(v.b));
      if (v.expected === "nonzero") expect(r).not.toBe(0);
      else expect(r).toBe(v.expected);
    });
  }

  for (const v of vectors.relate) {
    it(`relate ${formatVersion(asVersion(v.a))} ${v.relation} ${formatVersion(asVersion(v.b))}  [${v.source}]`, () => {
      if (v.relation === "none") {
        expect(isRelation(v.relation)).toBe(false);
        return;
      }
      expect(isRelation(v.relation)).toBe(true);
      if (isRelation(v.relation))
        expect(satisfies(asVersion(v.a), v.relation, asVersion(v.b))).toBe(v.expected);
    });
  }

  for (const v of vectors.parse) {
    it(`parses ${JSON.stringify(v.input)}  [${v.source}]`, () => {
      expect(parseVersion(v.input)).toEqual(asVersion(v.expected));
    });
  }

  for (const v of vectors.invalid) {
    it(`rejects ${JSON.stringify(v.input)} (${v.severity})  [${v.source}]`, () => {
      let caught: unknown;
      try {
        parseVersion(v.input);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(InvalidVersionError);
      expect((caught as InvalidVersionError).severity).toBe(v.severity);
      expect((caught as InvalidVersionError).exitCode).toBe(2);
      // dpkg reads its database laxly: warnings are accepted, errors are not.
      if (v.severity === "warning") expect(() => parseVersion(v.input, { strict: false })).not.toThrow();
      else expect(() => parseVersion(v.input, { strict: false })).toThrow(InvalidVersionError);
    });
  }

  // version_compare_string (a Perl-only helper that orders single characters) has no counterpart here.
  for (const v of vectors.sort.filter((s) => s.function !== "version_compare_string")) {
    it(`sort ${v.function}  [${v.source}]`, () => {
      const cmp = v.function === "version_compare" ? compareVersions : compareVersionPart;
      expect([...v.unsorted].sort(cmp)).toEqual(v.expected);
    });
  }
});

describe("formatVersion", () => {
  it("round-trips and drops a zero epoch and an empty revision", () => {
    expect(formatVersion(parseVersion("1:2.36-9+deb12u4"))).toBe("1:2.36-9+deb12u4");
    expect(formatVersion(parseVersion("0:1.0"))).toBe("1.0");
    expect(formatVersion(parseVersion("1.0-1.0-1"))).toBe("1.0-1.0-1");
  });
});

// dpkg itself is the reference on a Debian machine: cross-check a few hundred pairs built from the vectors.
const dpkg = spawnSync("dpkg", ["--version"]);
describe.skipIf(dpkg.status !== 0)("agrees with dpkg --compare-versions on this machine", () => {
  it("for every pair of the comparison vectors' versions", () => {
    const versions = [...new Set(vectors.compareStrings.flatMap((v) => [v.a, v.b]))].slice(0, 30);
    const script = versions
      .flatMap((a) => versions.map((b) => `dpkg --compare-versions -- '${a}' lt '${b}' && echo 1 || echo 0`))
      .join("\n");
    const out = spawnSync("sh", ["-c", script], { encoding: "utf8" }).stdout.trim().split("\n");
    let k = 0;
    for (const a of versions)
      for (const b of versions) expect(compareVersions(a, b) < 0, `${a} << ${b}`).toBe(out[k++] === "1");
  });
});
