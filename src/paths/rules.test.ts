import { describe, expect, it } from "vitest";
import {
  absolutePathProblem,
  joinInside,
  nameProblem,
  normaliseRelative,
  relativeInside,
  relativePathProblem,
  UnsafePathError,
} from "./rules.js";

const rule = (p: { rule: string } | undefined) => p?.rule;

describe("nameProblem", () => {
  it.each([
    ["package.env", undefined],
    ["a..b", undefined],
    [".hidden", undefined],
    ["", "empty"],
    [".", "empty"],
    ["..", "dot-dot"],
    ["a/b", "slash"],
    ["/", "slash"],
    ["a\0b", "nul"],
  ])("%j → %s", (value, want) => {
    expect(rule(nameProblem(value))).toBe(want);
  });
});

describe("relativePathProblem", () => {
  it.each([
    ["env/sys-libs/glibc", undefined, undefined],
    ["./etc//hosts/", undefined, "not-normalised"],
    ["a..b/c..", undefined, undefined],
    ["", "empty", "empty"],
    [".", "empty", "empty"],
    ["./", "empty", "empty"],
    ["/etc/passwd", "absolute", "absolute"],
    ["..", "dot-dot", "dot-dot"],
    ["env/../../x", "dot-dot", "dot-dot"],
    ["a/..", "dot-dot", "dot-dot"],
    ["a\0", "nul", "nul"],
  ])("%j → %s (normalised: %s)", (value, lenient, strict) => {
    expect(rule(relativePathProblem(value))).toBe(lenient);
    expect(rule(relativePathProblem(value, { normalised: true }))).toBe(strict);
  });

  it("normalises what it accepts", () => {
    expect(normaliseRelative("./etc//hosts/")).toBe("etc/hosts");
  });
});

describe("absolutePathProblem", () => {
  it.each([
    ["/etc/passwd", undefined, undefined],
    ["/", "empty", "empty"],
    ["//", "empty", "empty"],
    ["/etc/", undefined, "not-normalised"],
    ["/etc/../tmp", "dot-dot", "dot-dot"],
    [`/etc/${"../".repeat(25)}tmp/victim`, "dot-dot", "dot-dot"],
    ["etc/passwd", "not-absolute", "not-absolute"],
    ["", "empty", "empty"],
    ["/a\0", "nul", "nul"],
  ])("%j → %s (normalised: %s)", (value, lenient, strict) => {
    expect(rule(absolutePathProblem(value))).toBe(lenient);
    expect(rule(absolutePathProblem(value, { normalised: true }))).toBe(strict);
  });
});

describe("joins", () => {
  it("joins a safe relative path below its base", () => {
    expect(joinInside("/p", "./etc/portage//env/x", "key")).toBe("/p/etc/portage/env/x");
  });

  it("refuses a way out, naming the value, why and what is expected", () => {
    const e = (() => {
      try {
        joinInside(
          "/p",
          `env/${"../".repeat(30)}work/x/PWNED.conf`,
          "gentoo.packageEnvFiles key",
          "env/<file>",
        );
      } catch (err) {
        return err as UnsafePathError;
      }
    })();
    expect(e).toBeInstanceOf(UnsafePathError);
    expect(e!.exitCode).toBe(2);
    expect(e!.rule).toBe("dot-dot");
    expect(e!.message).toMatch(/^gentoo\.packageEnvFiles key: "env\/\.\.\/.*" has a "\.\." component/);
    expect(e!.hint).toBe("expected env/<file>");
    for (const bad of ["", ".", "/etc/passwd", "a/../..", "x\0"])
      expect(() => joinInside("/p", bad, "v")).toThrow(UnsafePathError);
  });

  it("relativeInside: below the directory only, never through a `..`", () => {
    expect(relativeInside("/cvmfs/r", "/cvmfs/r/versions/1/compat/linux/x86_64", "prefix")).toBe(
      "versions/1/compat/linux/x86_64",
    );
    expect(() => relativeInside("/cvmfs/r", "/cvmfs/r/../x/x86_64", "prefix")).toThrow(/"\.\." component/);
    expect(() => relativeInside("/cvmfs/r", "/cvmfs/rx/a", "prefix")).toThrow(/not inside \/cvmfs\/r/);
    expect(() => relativeInside("/cvmfs/r", "/cvmfs/r/", "prefix")).toThrow(/itself/);
    expect(relativeInside("/cvmfs/r", "/cvmfs/r", "prefix", { allowSelf: true })).toBe("");
  });
});
