/**
 * `compat diff` of two builds whose records name different build roots shows it: the two
 * identities and the build root's packages that differ; a record's buildRoot that is not one
 * (hand-edited, hostile) is ignored, never trusted or crashed on.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compat } from "../helpers/cli.js";

let scratch: string;

const ID_A = "a".repeat(64);
const ID_B = "b".repeat(64);

/** A prefix with a file and a build record naming a build root (or `buildRoot` as given). */
function prefix(name: string, buildRoot: unknown): string {
  const p = join(scratch, name);
  mkdirSync(join(p, "reprod/20250601_000000UTC"), { recursive: true });
  mkdirSync(join(p, "etc"));
  writeFileSync(join(p, "etc/hello"), "same in both\n");
  writeFileSync(
    join(p, "reprod/20250601_000000UTC/build.json"),
    JSON.stringify({ flavor: "gentoo", arch: "x86_64", sourceDateEpoch: 1748736000, buildRoot }),
  );
  return p;
}

const root = (identity: string, packages: string[]) => ({
  identity,
  suite: "bookworm",
  arch: "x86_64",
  packages,
});

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "compat-diff-build-root-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("compat diff: build roots", () => {
  it("shows two builds' build roots and the packages that differ (exit 1)", () => {
    const a = prefix("a", root(ID_A, ["gcc-12=12.2.0-14", "make=4.3-4.1", "patch=2.7.6-7"]));
    const b = prefix("b", root(ID_B, ["gcc-12=12.2.0-14+deb12u1", "make=4.3-4.1", "wget=1.21.3-1+b2"]));
    const r = compat(["diff", a, b]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("Build root");
    expect(r.stdout).toContain(
      `${ID_A.slice(0, 12)} (bookworm, x86_64) → ${ID_B.slice(0, 12)} (bookworm, x86_64)`,
    );
    expect(r.stdout).toMatch(/upgraded\s+gcc-12\s+12\.2\.0-14\s+12\.2\.0-14\+deb12u1/);
    expect(r.stdout).toMatch(/added\s+wget\s+1\.21\.3-1\+b2/);
    expect(r.stdout).toMatch(/removed\s+patch\s+2\.7\.6-7/);
    const json = JSON.parse(compat(["diff", a, b, "--json"]).stdout);
    expect(json.buildRoot.a.identity).toBe(ID_A);
    expect(json.buildRoot.b.identity).toBe(ID_B);
    expect(json.buildRoot.packages.upgraded).toEqual([
      { name: "gcc-12", from: "12.2.0-14", to: "12.2.0-14+deb12u1" },
    ]);
    expect(json.buildRoot.packages.unchanged).toBe(1);
  });

  it("says when one build ran on the host's userland; the same build root is no difference", () => {
    const a = prefix("host", undefined);
    const b = prefix("rooted", root(ID_A, ["gcc-12=12.2.0-14"]));
    const r = compat(["diff", a, b]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`none (the host's userland) → ${ID_A.slice(0, 12)} (bookworm, x86_64)`);
    const same = compat(["diff", b, prefix("rooted-again", root(ID_A, ["gcc-12=12.2.0-14"]))]);
    expect(same.status).toBe(0);
    expect(same.stdout).not.toContain("Build root");
  });

  it("ignores a record's buildRoot that is not one", () => {
    const a = prefix("bad-a", { identity: "../../etc", suite: 3, packages: "gcc" });
    const b = prefix("bad-b", root(ID_A, ["gcc-12=12.2.0-14", "x\u001b[31m=1"]));
    const r = compat(["diff", a, b]);
    expect(r.stderr).not.toMatch(/internal error/);
    // the two build.json files differ, nothing else: no build root is named
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/changed\s+1 /);
    expect(r.stdout).not.toContain("Build root");
  });

  it("ignores a record whose suite, arch or versions carry control characters (F4): nothing raw on stdout", () => {
    const hostile = [
      { ...root(ID_A, ["gcc-12=12.2.0-14"]), suite: "bookworm\u001b]0;PWNED\u0007\u001b[2J" },
      { ...root(ID_A, ["gcc-12=12.2.0-14"]), arch: "x86_64\u001b[8m" },
      { ...root(ID_A, ["gcc-12=12.2.0-14"]), suite: "bookworm\r\nfake: line" },
      root(ID_A, ["gcc-12=1\u001b[31mRED"]),
    ];
    const plain = prefix("plain", root(ID_B, ["gcc-12=12.2.0-14"]));
    hostile.forEach((record, i) => {
      const r = compat(["diff", prefix(`hostile-${i}`, record), plain]);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.stdout).toContain("none (the host's userland)");
      for (const c of ["\u001b", "\u0007", "\r"]) expect(r.stdout).not.toContain(c);
    });
  });
});
