import { describe, expect, it } from "vitest";
import { parseSpec, validateSpecText } from "../spec/load.js";
import { buildRootIdentity, canonicalPackageList, requestKey } from "./identity.js";
import { buildRootFor } from "./spec.js";

const gentoo = `
repository: software.example.org
stack: eessi
version: "2025.06"
arches: [x86_64, riscv64]
flavor: gentoo
gentoo:
  repository: {commit: ${"a".repeat(40)}}
`;
const debian = `
repository: software.example.org
stack: dev
version: "2025.06"
arches: [x86_64, riscv64]
flavor: debian
debian:
  suite: {x86_64: bookworm, riscv64: trixie}
  mirror: http://snapshot.example.org/debian
`;

const problems = (text: string) =>
  validateSpecText(text, "s.yaml").problems.map((p) => `${p.field}: ${p.message}`);

describe("buildRoot in the spec", () => {
  it("defaults to the flavor's: gentoo's toolchain on bookworm (trixie for riscv64), debian's minbase of the layer's suite and mirror", () => {
    const g = parseSpec(gentoo, "g.yaml").spec;
    expect(buildRootFor(g, "x86_64").suite).toBe("bookworm");
    expect(buildRootFor(g, "riscv64").suite).toBe("trixie");
    expect(buildRootFor(g, "x86_64").packages).toEqual(
      expect.arrayContaining(["gcc", "g++", "make", "patch"]),
    );
    const d = parseSpec(debian, "d.yaml").spec;
    expect(buildRootFor(d, "riscv64")).toEqual({
      suite: "trixie",
      mirror: "http://snapshot.example.org/debian",
      packages: [],
    });
  });

  it("takes the spec's fields over the flavor's, packages sorted", () => {
    const s = parseSpec(
      `${gentoo}buildRoot:\n  suite: {x86_64: trixie, riscv64: sid}\n  packages: [make, gcc]\n`,
      "g.yaml",
    ).spec;
    expect(buildRootFor(s, "x86_64")).toEqual({ suite: "trixie", packages: ["gcc", "make"] });
    expect(buildRootFor(s, "riscv64").suite).toBe("sid");
  });

  it("refuses bad values naming the field", () => {
    const withRoot = (yaml: string) => problems(`${gentoo}buildRoot:\n${yaml}`);
    expect(withRoot("  packages: [gcc, Foo_bar, -rf, 'a,b']\n")).toEqual([
      expect.stringMatching(/^buildRoot\.packages\[1\]: .*not a Debian package name/),
      expect.stringMatching(/^buildRoot\.packages\[2\]: .*not a Debian package name/),
      expect.stringMatching(/^buildRoot\.packages\[3\]: .*not a Debian package name/),
    ]);
    expect(withRoot("  packages: [gcc, gcc]\n")).toEqual([
      expect.stringMatching(/^buildRoot\.packages\[1\]: .*gcc is listed twice/),
    ]);
    expect(withRoot("  suite: {x86_64: bookworm}\n")).toEqual([
      expect.stringMatching(/^buildRoot\.suite: no suite for riscv64/),
    ]);
    expect(withRoot("  suite: ../bookworm\n")[0]).toMatch(/^buildRoot\.suite/);
    for (const m of ["ftp://x.org/debian", "http://a b/", "file:///x\nTypes: deb", "javascript:alert(1)"])
      expect(withRoot(`  mirror: ${JSON.stringify(m)}\n`)[0], m).toMatch(
        /^buildRoot\.mirror: .*not a mirror URL/,
      );
    expect(withRoot("  variant: buildd\n")[0]).toMatch(/^buildRoot.*variant/);
  });

  it("refuses a mirror with credentials, without echoing the password (F8)", () => {
    const withRoot = (yaml: string) => problems(`${gentoo}buildRoot:\n${yaml}`);
    for (const m of [
      "https://u:s3cr3t@deb.example.org/debian",
      "http://token@deb.example.org/debian",
      "ftp://u:s3cr3t@deb.example.org/debian",
    ]) {
      const found = withRoot(`  mirror: ${m}\n`);
      expect(found, m).toEqual([expect.stringMatching(/^buildRoot\.mirror: has credentials in it/)]);
      expect(found.join("\n")).not.toMatch(/s3cr3t|token/);
      const r = validateSpecText(`${gentoo}buildRoot:\n  mirror: ${m}\n`, "s.yaml");
      expect(JSON.stringify(r)).not.toMatch(/s3cr3t|token@/);
    }
    const d = problems(debian.replace("http://snapshot", "http://u:s3cr3t@snapshot"));
    expect(d).toEqual([expect.stringMatching(/^debian\.mirror: has credentials in it/)]);
    // an @ later in the URL is no credential
    expect(withRoot("  mirror: https://deb.example.org/debian/@x\n")).toEqual([]);
  });

  it("refuses a file:// mirror for the build root: a spec from a pull request may not make the build host read its paths (F9)", () => {
    const withRoot = (yaml: string) => problems(`${gentoo}buildRoot:\n${yaml}`);
    expect(withRoot("  mirror: file:///etc\n")).toEqual([
      expect.stringMatching(
        /^buildRoot\.mirror: "file:\/\/\/etc": not a mirror URL \(expected http:\/\/ or https:\/\/.*leave buildRoot\.mirror out/,
      ),
    ]);
  });
});

describe("build-root identity", () => {
  const pkgs = [
    { name: "libc6", version: "2.36-9+deb12u10", arch: "amd64" },
    { name: "bash", version: "5.2.15-2+b7", arch: "amd64" },
  ];
  it("hashes the sorted package list with suite and arch, whatever the order", () => {
    const a = buildRootIdentity({ arch: "x86_64", suite: "bookworm", packages: pkgs });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(buildRootIdentity({ arch: "x86_64", suite: "bookworm", packages: [...pkgs].reverse() })).toBe(a);
    expect(canonicalPackageList({ arch: "x86_64", suite: "bookworm", packages: pkgs })).toBe(
      "suite bookworm\narch x86_64\nbash:amd64 5.2.15-2+b7\nlibc6:amd64 2.36-9+deb12u10\n",
    );
    const other = [{ ...pkgs[0]!, version: "2.36-9+deb12u11" }, pkgs[1]!];
    expect(buildRootIdentity({ arch: "x86_64", suite: "bookworm", packages: other })).not.toBe(a);
    expect(buildRootIdentity({ arch: "x86_64", suite: "trixie", packages: pkgs })).not.toBe(a);
  });
  it("keys a request by arch, suite, sources and the package set, not its order", () => {
    const k = (packages: string[], sources = "Types: deb\n") =>
      requestKey({ arch: "x86_64", spec: { suite: "bookworm", packages }, sources });
    expect(k(["make", "gcc"])).toBe(k(["gcc", "make", "gcc"]));
    expect(k(["gcc"])).not.toBe(k(["gcc", "make"]));
    expect(k(["gcc"], "other")).not.toBe(k(["gcc"]));
  });
});
