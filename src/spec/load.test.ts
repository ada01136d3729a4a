import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { closest, parseSpec, validateSpecText } from "./load.js";
import { debianSuiteFor } from "./schema.js";

const testdata = join(import.meta.dirname, "testdata");

const minimal = `
repository: software.example.org
stack: dev
version: "2025.06"
arches: [x86_64]
flavor: debian
debian:
  suite: bookworm
  packages: [bash]
`;

describe("spec loading", () => {
  it("takes debian.suite as one name or one per arch (riscv64 from trixie)", () => {
    const perArch = minimal
      .replace("arches: [x86_64]", "arches: [x86_64, riscv64]")
      .replace("suite: bookworm", "suite: {x86_64: bookworm, riscv64: trixie}");
    const { spec } = parseSpec(perArch, "per-arch.yaml");
    expect(debianSuiteFor(spec.debian!, "x86_64")).toBe("bookworm");
    expect(debianSuiteFor(spec.debian!, "riscv64")).toBe("trixie");
    expect(debianSuiteFor(parseSpec(minimal, "min.yaml").spec.debian!, "x86_64")).toBe("bookworm");
    expect(() => debianSuiteFor(spec.debian!, "aarch64")).toThrow(/debian.suite names no suite for aarch64/);
  });

  it("refuses a per-arch suite that misses an arch, names another, or is not a suite", () => {
    const withSuite = (suite: string, arches = "[x86_64, riscv64]") =>
      validateSpecText(
        minimal
          .replace("arches: [x86_64]", `arches: ${arches}`)
          .replace("suite: bookworm", `suite: ${suite}`),
        "s.yaml",
      ).problems.map((p) => `${p.field}: ${p.message}`);
    expect(withSuite("{x86_64: bookworm}")).toEqual([
      expect.stringMatching(
        /^debian\.suite: no suite for riscv64 \(the spec's arches are x86_64, riscv64; add e\.g\. `riscv64: bookworm`\)/,
      ),
    ]);
    expect(withSuite("{x86_64: bookworm, riscv64: trixie, aarch64: bookworm}")).toEqual([
      expect.stringMatching(/^debian\.suite: aarch64 is not one of the spec's arches \(x86_64, riscv64\)/),
    ]);
    expect(withSuite("{x86_64: bookworm, riscv64: trixie, arm64: bookworm}")).toEqual([
      expect.stringMatching(/^debian\.suite: "arm64": not an architecture, did you mean "aarch64"\?/),
    ]);
    for (const key of ["__proto__", "constructor", "toString", "''"])
      expect(withSuite(`{x86_64: bookworm, riscv64: trixie, ${key}: bookworm}`), key).toEqual([
        expect.stringMatching(/not an architecture|is not allowed/),
      ]);
    for (const bad of [
      "../trixie",
      "Trixie",
      "trixie/updates",
      "'trixie '",
      "''",
      `${"a".repeat(65)}`,
      "[trixie]",
      "7",
    ])
      expect(withSuite(`{x86_64: bookworm, riscv64: ${bad}}`).join("\n"), bad).toMatch(/debian\.suite/);
    expect(withSuite("{}")).toEqual([
      expect.stringMatching(/no suite for x86_64/),
      expect.stringMatching(/no suite for riscv64/),
    ]);
    expect(withSuite("{x86_64: bookworm}", "[x86_64]")).toEqual([]);
  });

  it("accepts a minimal debian spec and fills defaults", () => {
    const { spec, hash } = parseSpec(minimal, "min.yaml");
    expect(spec.prefix).toBe("/cvmfs/{repository}/versions/{version}/compat/{os}/{arch}");
    expect(spec.debian?.variant).toBe("minbase");
    expect(spec.locales).toEqual(["en_US.UTF-8 UTF-8"]);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("gives the same hash whatever the comments and key order", () => {
    const reordered = `# comment\nflavor: debian\n${minimal.replace("flavor: debian\n", "")}`;
    expect(parseSpec(reordered, "b.yaml").hash).toBe(parseSpec(minimal, "a.yaml").hash);
  });

  it("lists a misspelt key, a bad arch and a malformed package name with their lines", () => {
    const text = readFileSync(join(testdata, "invalid.yaml"), "utf8");
    const { problems } = validateSpecText(text, "invalid.yaml");
    const lines = problems.map((p) => `${p.line}:${p.col} ${p.field}: ${p.message}`);
    expect(lines).toEqual([
      expect.stringMatching(
        /^5:10 arches\[0\]: "x86-64": not an architecture, did you mean "x86_64"\? \(expected one of x86_64, aarch64/,
      ),
      expect.stringMatching(/^10:3 gentoo\.pakages: unknown key, did you mean "packages"\?/),
      expect.stringMatching(
        /^12:13 gentoo\.packages\[0\]\.name: "bash": not a package name \(expected category\/name/,
      ),
    ]);
  });

  it("throws an InputError (exit 2) that carries every problem", () => {
    const text = readFileSync(join(testdata, "invalid.yaml"), "utf8");
    const err = (() => {
      try {
        parseSpec(text, "invalid.yaml");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).exitCode).toBe(2);
    expect((err as InputError).details).toHaveLength(3);
    expect((err as InputError).details[0]).toMatch(/^invalid\.yaml:5:10 /);
  });

  it("explains a version written as a number", () => {
    const { problems } = validateSpecText(minimal.replace('"2025.06"', "2025.10"), "v.yaml");
    expect(problems[0]?.message).toContain('write "2025.10" in quotes');
  });

  it("reports YAML syntax errors with their position", () => {
    const { problems } = validateSpecText("repository: [a\nstack: x\n", "y.yaml");
    expect(problems[0]?.message).toMatch(/^YAML: /);
    expect(problems[0]?.line).toBeGreaterThan(0);
  });

  it("reports a missing flavor section", () => {
    const { problems } = validateSpecText(minimal.replace(/debian:\n( {2}.*\n)+/, ""), "m.yaml");
    expect(problems.map((p) => p.field)).toContain("debian");
  });

  it("lists a missing flavor section together with the schema errors", () => {
    const text = minimal.replace(/debian:\n( {2}.*\n)+/, "").replace("[x86_64]", "[x86_64-typo]");
    const { problems } = validateSpecText(text, "m.yaml");
    expect(problems.map((p) => `${p.field}: ${p.message}`)).toEqual([
      "debian: flavor debian needs a `debian:` section",
      expect.stringMatching(/^arches\[0\]: "x86_64-typo": not an architecture \(expected one of x86_64/),
    ]);
  });

  it("runs every cross-field rule beside unrelated schema errors, and none on fields that did not parse", () => {
    const text = `repository: software.example.org
stack: BAD STACK
version: "1"
arches: [x86_64, aarch64, x86_64]
flavor: gentoo
gentoo:
  repository: {commit: 91ee4d032fd7b2cf2704f542c78ec12899016bef}
  overlays:
    - {name: a, url: x}
    - {name: a, url: y}
  trustedDirs: ["{prefix}/lib"]
  packageEnvFiles: {"env/glibc-user-defined-trusted-dirs.conf": "x"}
  packages:
    - {name: sys-apps/x, version: "1.0", overlay: ""}
    - {name: bash, version: "not-a-version"}
`;
    const fields = validateSpecText(text, "c.yaml").problems.map((p) => p.field);
    expect(fields).toEqual([
      "stack",
      "arches[2]",
      "gentoo.overlays[1].name",
      "gentoo.packageEnvFiles.env/glibc-user-defined-trusted-dirs.conf",
      "gentoo.packages[0].overlay",
      // the version rule needs the name: with a bad name only the name is reported
      "gentoo.packages[1].name",
    ]);
    const misspelt = text.replace("flavor: gentoo", "flavour: gentoo");
    // no flavor parsed: no flavor-section rule, the other rules still run
    expect(validateSpecText(misspelt, "c.yaml").problems.map((p) => p.field)).toEqual([
      "flavor",
      "stack",
      "arches[2]",
      "flavour",
      "gentoo.overlays[1].name",
      "gentoo.packageEnvFiles.env/glibc-user-defined-trusted-dirs.conf",
      "gentoo.packages[0].overlay",
      "gentoo.packages[1].name",
    ]);
  });

  it("checks a pinned version beside other problems of the same package", () => {
    const text = minimal.replace(
      "flavor: debian",
      `flavor: debian
gentoo:
  repository: {commit: 91ee4d032fd7b2cf2704f542c78ec12899016bef}
  packages:
    - {name: sys-apps/x, version: "1..0", overlay: ""}`,
    );
    const { problems } = validateSpecText(text, "v.yaml");
    expect(problems.map((p) => p.field).sort()).toEqual([
      "gentoo.packages[0].overlay",
      "gentoo.packages[0].version",
    ]);
  });

  it.each([
    ["arm64", "aarch64"],
    ["ARM64", "aarch64"],
    ["amd64", "x86_64"],
    ["x86-64", "x86_64"],
    ["x64", "x86_64"],
    ["ppc64el", "ppc64le"],
    ["riscv", "riscv64"],
    ["aarch46", "aarch64"],
  ])("answers the arch %s with did you mean %s", (typed, meant) => {
    const { problems } = validateSpecText(minimal.replace("[x86_64]", `["${typed}"]`), "a.yaml");
    expect(problems.map((p) => `${p.line}:${p.col} ${p.field}: ${p.message}`)).toEqual([
      `5:10 arches[0]: ${JSON.stringify(typed)}: not an architecture, did you mean "${meant}"? (expected one of x86_64, aarch64, riscv64, ppc64le)`,
    ]);
  });

  it("gives no arch hint for a name that is not near one", () => {
    const { problems } = validateSpecText(minimal.replace("[x86_64]", "[sparc]"), "a.yaml");
    expect(problems[0]?.message).toBe(
      '"sparc": not an architecture (expected one of x86_64, aarch64, riscv64, ppc64le)',
    );
  });

  it("suggests only near misses", () => {
    expect(closest("flavr", ["flavor", "arches"])).toBe("flavor");
    expect(closest("zzzzzz", ["flavor", "arches"])).toBeUndefined();
  });
});

describe("debian.sourceDateEpoch", () => {
  const withEpoch = (value: string) =>
    minimal.replace(/^debian:\n/m, `debian:\n  sourceDateEpoch: ${value}\n`);

  it("takes whole seconds", () => {
    expect(parseSpec(withEpoch("1749634260"), "e.yaml").spec.debian?.sourceDateEpoch).toBe(1749634260);
    expect(parseSpec(withEpoch("0"), "e.yaml").spec.debian?.sourceDateEpoch).toBe(0);
  });

  it.each([
    ["-1", /a unix time is not negative/],
    ["1.5", /^1.5 is not a whole number$/],
    ["1e20", /beyond the year 9999/],
    ["253402300800", /beyond the year 9999/],
    ['"1749634260"', /^got a string \(expected a number\)$/],
    ["2025-06-11", /^got a string \(expected a number\)$/],
    ["[1]", /^got a list \(expected a number\)$/],
    [".inf", /^Infinity is not a finite number$/],
    [".nan", /^NaN is not a finite number$/],
  ])("refuses %s with its line and field", (value, message) => {
    const { problems } = validateSpecText(withEpoch(value), "e.yaml");
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) {
      expect(p.field).toBe("debian.sourceDateEpoch");
      expect(p.line).toBe(8);
    }
    expect(problems.map((p) => p.message)).toContainEqual(expect.stringMatching(message));
  });
});

describe("overlay rules", () => {
  const base = `repository: software.example.org
stack: t
version: "1"
arches: [x86_64]
flavor: gentoo
gentoo:
  repository: {commit: 91ee4d032fd7b2cf2704f542c78ec12899016bef}
`;
  it("refuses an overlay named gentoo and a repeated overlay", () => {
    const { problems } = validateSpecText(
      `${base}  overlays:\n    - {name: gentoo, url: x}\n    - {name: a, url: x}\n    - {name: a, url: y}\n`,
      "o.yaml",
    );
    expect(problems.map((p) => `${p.line} ${p.field}: ${p.message}`)).toEqual([
      `9 gentoo.overlays[0].name: "gentoo": is the main repository's name (set it up in gentoo.repository), not an overlay's`,
      '11 gentoo.overlays[2].name: "a": this overlay is listed twice',
    ]);
  });

  it("refuses to link an overlay's etc/portage entry the spec writes, or one linked from two overlays", () => {
    const { problems } = validateSpecText(
      `${base}  packageAcceptKeywords: "sys-cluster/lmod ~amd64"
  trustedDirs: ["{prefix}/lib"]
  packages: [{name: not-a-name}]
  overlays:
    - {name: a, url: x, portageConfig: [package.accept_keywords, env, sets, repos.conf]}
    - {name: b, url: y, portageConfig: [sets, profile, ../etc]}
`,
      "p.yaml",
    );
    expect(problems.map((p) => `${p.line} ${p.field}: ${p.message}`)).toEqual([
      expect.stringMatching(/^10 gentoo\.packages\[0\]\.name: /),
      `12 gentoo.overlays[0].portageConfig[0]: "package.accept_keywords": the spec writes etc/portage/package.accept_keywords (from gentoo.packageAcceptKeywords); link it from the overlay or write it from the spec, not both`,
      `12 gentoo.overlays[0].portageConfig[1]: "env": the spec writes etc/portage/env (from gentoo.trustedDirs); link it from the overlay or write it from the spec, not both`,
      `12 gentoo.overlays[0].portageConfig[3]: "repos.conf": the spec writes etc/portage/repos.conf (from gentoo.repository and gentoo.overlays, always); link it from the overlay or write it from the spec, not both`,
      expect.stringMatching(/^13 gentoo\.overlays\[1\]\.portageConfig\[2\]: "\.\.\/etc": not an entry name/),
    ]);
    // an overlay that parsed is checked against the others too
    const fixed = validateSpecText(
      `${base}  overlays:
    - {name: a, url: x, portageConfig: [sets]}
    - {name: b, url: y, portageConfig: [sets, profile]}
`,
      "p.yaml",
    );
    expect(fixed.problems.map((p) => `${p.field}: ${p.message}`)).toEqual([
      'gentoo.overlays[1].portageConfig[0]: "sets": already linked into etc/portage/ from overlay a',
    ]);
  });

  it("refuses a hand-written trusted-dirs env file next to gentoo.trustedDirs", () => {
    const { problems } = validateSpecText(
      `${base}  trustedDirs: ["{prefix}/lib"]\n  packageEnvFiles: {"env/glibc-user-defined-trusted-dirs.conf": "x"}\n`,
      "t.yaml",
    );
    expect(problems[0]?.field).toBe("gentoo.packageEnvFiles.env/glibc-user-defined-trusted-dirs.conf");
  });

  it("finds no placeholder, default or key among Object's own members (constructor, __proto__)", () => {
    const lines = (text: string) =>
      validateSpecText(text, "p.yaml").problems.map((p) => `${p.line}:${p.col} ${p.field}: ${p.message}`);
    expect(lines(`${minimal}prefix: /cvmfs/{repository}/{constructor}/{__proto__}\n`)).toEqual([
      expect.stringMatching(/^10:9 prefix: unknown placeholder \{constructor\} \(placeholders here are/),
    ]);
    expect(
      lines(
        `${minimal}hostSymlinks:\n  - { src: "$(X:-/cvmfs/{repository}/defaults/constructor)", dest: etc/x }\n`,
      ),
    ).toEqual([expect.stringMatching(/^11:12 hostSymlinks\[0\]\.src: .*has no plain target/)]);
    expect(lines(`${minimal}variantSymlinks:\n  hostDefaults:\n    __proto__: /dev/null\n`)).toEqual([
      '12:5 variantSymlinks.hostDefaults.__proto__: the key "__proto__" is not allowed (JavaScript would read it as the object\'s prototype and lose it)',
    ]);
    expect(lines(`${minimal}? [complex]\n: key\n`)).toEqual([
      "10:3 : a key must be a plain name, not a list or a mapping",
    ]);
    expect(lines(minimal.replace("arches: [x86_64]", "arches: [constructor]"))).toEqual([
      expect.stringMatching(/^5:10 arches\[0\]: "constructor": not an architecture \(expected one of/),
    ]);
  });
});
