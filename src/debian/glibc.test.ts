/** The patches on this machine's own glibc (Debian 12), copied into a tree. */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { disableHostPaths, libcPatches, loaderPatches } from "./glibc.js";

const LIB = "/usr/lib/x86_64-linux-gnu";
const canRun =
  process.arch === "x64" && existsSync(`${LIB}/libc.so.6`) && existsSync(`${LIB}/ld-linux-x86-64.so.2`);

describe("patch tables", () => {
  it("disable every host path with a same-length dummy", () => {
    for (const p of [...loaderPatches("x86_64-linux-gnu"), ...libcPatches("x86_64-linux-gnu")]) {
      expect(p.to).toHaveLength(p.from.length);
      expect(p.to.startsWith("/.n")).toBe(true);
    }
  });
});

describe.skipIf(!canRun)("disableHostPaths on this machine's glibc", () => {
  let tree: string;
  beforeAll(() => {
    tree = mkdtempSync(join(tmpdir(), "glibc-"));
    mkdirSync(join(tree, "usr/lib/x86_64-linux-gnu"), { recursive: true });
    for (const f of ["libc.so.6", "ld-linux-x86-64.so.2"])
      copyFileSync(`${LIB}/${f}`, join(tree, "usr/lib/x86_64-linux-gnu", f));
  });
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  it("patches ld.so and libc, and ld.so no longer finds the host's libraries", async () => {
    const ld = join(tree, "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    const before = spawnSync(ld, ["--list", "/usr/bin/true"], { encoding: "utf8" });
    expect(before.stdout).toMatch(/libc\.so\.6 => \/(usr\/)?lib\/x86_64-linux-gnu\/libc\.so\.6/);

    const r = await disableHostPaths(tree, "x86_64-linux-gnu");
    expect(r.files.map((f) => f.file)).toEqual([
      "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
      "usr/lib/x86_64-linux-gnu/libc.so.6",
    ]);
    expect(r.files[0]!.counts["/etc/ld.so.cache"]).toBe(1);
    expect(r.files[1]!.counts["/usr/lib/locale"]).toBeGreaterThanOrEqual(1);

    const help = spawnSync(ld, ["--help"], { encoding: "utf8" });
    expect(help.stdout).toContain("/.no-lib/x86_64-linux-gnu (system search path)");
    expect(help.stdout).not.toMatch(/^\s+\/usr\/lib\/x86_64-linux-gnu \(system search path\)/m);
    const after = spawnSync(ld, ["--list", "/usr/bin/true"], { encoding: "utf8" });
    expect(after.status).toBe(127);
    expect(after.stderr).toMatch(/libc\.so\.6: cannot open shared object file/);

    const again = await disableHostPaths(tree, "x86_64-linux-gnu");
    expect(again.files.every((f) => f.alreadyPatched.length === Object.keys(f.counts).length)).toBe(true);
  });
});

describe.skipIf(!canRun)("disableHostPaths on a tree whose loader is a link out of it", () => {
  it("refuses to patch the file the link leads to, and leaves it as it was", async () => {
    const tree = mkdtempSync(join(tmpdir(), "glibc-out-"));
    const outside = mkdtempSync(join(tmpdir(), "glibc-outside-"));
    try {
      mkdirSync(join(tree, "usr/lib/x86_64-linux-gnu"), { recursive: true });
      copyFileSync(`${LIB}/libc.so.6`, join(tree, "usr/lib/x86_64-linux-gnu/libc.so.6"));
      copyFileSync(`${LIB}/ld-linux-x86-64.so.2`, join(outside, "ld-linux-x86-64.so.2"));
      symlinkSync(
        join(outside, "ld-linux-x86-64.so.2"),
        join(tree, "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
      );
      const before = readFileSync(join(outside, "ld-linux-x86-64.so.2"));
      await expect(disableHostPaths(tree, "x86_64-linux-gnu")).rejects.toThrow(/is not inside/);
      expect(readFileSync(join(outside, "ld-linux-x86-64.so.2")).equals(before)).toBe(true);
    } finally {
      rmSync(tree, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
