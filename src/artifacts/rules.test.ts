import { describe, expect, it } from "vitest";
import { type MemberHeader, MemberRules, pathProblem } from "./rules.js";

const TOP = "2025.06/compat/linux/x86_64";
const rulesOf = (headers: MemberHeader[], allow: string[] = []) => {
  const r = new MemberRules(TOP, new Set(allow));
  return headers.flatMap((h) => r.check(h).map((v) => `${v.rule} ${v.member}`));
};
const file = (name: string, mode = 0o644): MemberHeader => ({ name, type: "file", mode });

describe("member rules", () => {
  it("accepts a normal layer", () => {
    expect(
      rulesOf([
        { name: `${TOP}/`, type: "directory", mode: 0o755 },
        { name: `${TOP}/usr/`, type: "directory", mode: 0o2755 },
        file(`${TOP}/usr/bin-file`, 0o755),
        { name: `${TOP}/etc/passwd`, type: "symlink", mode: 0o777, linkname: "/etc/passwd" },
        { name: `${TOP}/usr/hard`, type: "link", mode: 0o755, linkname: `${TOP}/usr/bin-file` },
      ]),
    ).toEqual([]);
  });

  it("names paths that are not normalised", () => {
    expect(pathProblem("/etc/x")?.rule).toBe("absolute-name");
    expect(pathProblem("a/../b")?.rule).toBe("dot-dot");
    expect(pathProblem("a/./b")?.rule).toBe("non-normalised-name");
    expect(pathProblem("a//b")?.rule).toBe("non-normalised-name");
    expect(pathProblem("a/b")).toBeUndefined();
  });

  it("tells a top dir mismatch from a member outside the top dir", () => {
    expect(
      rulesOf([file("2025.06/compat/linux/aarch64/x"), file("2025.06/init/x"), file(`${TOP}x/y`)]),
    ).toEqual([
      "top-dir-mismatch 2025.06/compat/linux/aarch64/x",
      "outside-top-dir 2025.06/init/x",
      "top-dir-mismatch 2025.06/compat/linux/x86_64x/y",
    ]);
  });

  it("rejects members reached through an earlier symlink, including hard link targets", () => {
    expect(
      rulesOf([
        { name: `${TOP}/lib`, type: "symlink", mode: 0o777, linkname: "/usr/lib" },
        file(`${TOP}/lib/libc.so`),
        { name: `${TOP}/h`, type: "link", mode: 0o644, linkname: `${TOP}/lib/libc.so` },
      ]),
    ).toEqual([`symlink-escape ${TOP}/lib/libc.so`, `symlink-escape ${TOP}/h`]);
  });

  it("allows setuid only where allow-listed, and setgid directories", () => {
    expect(
      rulesOf(
        [
          file(`${TOP}/bin/su`, 0o4755),
          file(`${TOP}/bin/passwd`, 0o4755),
          { name: `${TOP}/d/`, type: "directory", mode: 0o2775 },
        ],
        ["bin/passwd"],
      ),
    ).toEqual([`setuid ${TOP}/bin/su`]);
  });

  it("rejects device nodes, unknown types, duplicates and odd pax records", () => {
    expect(
      rulesOf([
        { name: `${TOP}/null`, type: "character-device", mode: 0o666 },
        { name: `${TOP}/s`, type: null, mode: 0o644 },
        file(`${TOP}/a`),
        file(`${TOP}/a`),
        { name: `${TOP}/p`, type: "file", mode: 0o644, pax: { "GNU.sparse.map": "0,1" } },
        { name: `${TOP}/.cvmfscatalog`, type: "directory", mode: 0o755 },
      ]),
    ).toEqual([
      `special-file ${TOP}/null`,
      `unknown-type ${TOP}/s`,
      `duplicate-member ${TOP}/a`,
      `unsupported-header ${TOP}/p`,
      `cvmfscatalog-not-regular ${TOP}/.cvmfscatalog`,
    ]);
  });
});
