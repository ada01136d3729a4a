import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSpec } from "../spec/load.js";
import { atomLinesProblems, packageNameProblem, versionProblem } from "./validate.js";

describe("package names, versions and config lines, checked as Portage checks them", () => {
  it("accepts real names and rejects names that end in a version or lack a category", () => {
    for (const ok of [
      "sys-apps/archspec",
      "app-text/7plus",
      "media-fonts/font-adobe-100dpi",
      "dev-libs/foo-bar-",
    ])
      expect(packageNameProblem(ok), ok).toBeUndefined();
    expect(packageNameProblem("dev-lang/go-12")).toMatch(/ends in a version/);
    expect(packageNameProblem("archspec")).toMatch(/needs a category/);
    expect(packageNameProblem("sys-apps/archspec:0")).toMatch(/not a package name/);
  });

  it("accepts PMS versions (and a =V* glob) and rejects others", () => {
    expect(versionProblem("sys-apps/archspec", "0.2.5-r1")).toBeUndefined();
    expect(versionProblem("sys-apps/archspec", "0.2*")).toBeUndefined();
    expect(versionProblem("sys-apps/archspec", "0.2.x")).toMatch(/not a version Portage accepts/);
    expect(versionProblem("sys-apps/archspec", "1.0_r1")).toMatch(/not a version/);
  });

  it("checks the atom that starts each line of a Portage config file", () => {
    const text =
      "# comment\n*/* PYTHON_TARGETS: -* python3_13\n>=sys-devel/gcc-14\nsys-auth/sssd-2 -daemon\n\n!dev-libs/a\ndev-libs/b::eessi x\n";
    expect(atomLinesProblems(text).map((p) => p.line)).toEqual([4, 6]);
    expect(atomLinesProblems(text)[0]!.message).toMatch(/a version needs an operator/);
  });
});

describe("the layer spec validates atoms and versions with these checks (errors with line numbers)", () => {
  const eessi = readFileSync(new URL("../../examples/eessi-2025.06.yaml", import.meta.url), "utf8");

  it("accepts EESSI's 2025.06 spec as it is", () => {
    expect(() => parseSpec(eessi, "eessi-2025.06.yaml")).not.toThrow();
  });

  it("names the file line and field of every bad atom or version", () => {
    const bad = eessi
      .replace("packages: []", "packages:\n    - name: sys-apps/archspec\n      version: 0.2.x")
      .replace("- dev-lang/go\n", "- dev-lang/go-12\n")
      .replace(">=sys-devel/gcc-14", ">=sys-devel/gcc");
    let details: string[] = [];
    try {
      parseSpec(bad, "eessi.yaml");
    } catch (e) {
      details = (e as { details: string[] }).details;
    }
    expect(details).toEqual([
      expect.stringMatching(
        /^eessi\.yaml:45:16 gentoo\.packages\[0\]\.version: "0\.2\.x": not a version Portage accepts/,
      ),
      expect.stringMatching(
        /^eessi\.yaml:49:7 gentoo\.removePackages\[1\]: "dev-lang\/go-12": not a package name: it ends in a version/,
      ),
      expect.stringMatching(
        /^eessi\.yaml:104:16 gentoo\.packageMask: line 3 of the text: invalid atom ">=sys-devel\/gcc"/,
      ),
    ]);
  });
});
