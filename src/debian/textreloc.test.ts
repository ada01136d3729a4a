import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { relocateLdd, relocatePackageText, relocateText } from "./textreloc.js";

const P = "/cvmfs/software.example.org/versions/2025.06/compat/linux/x86_64";

describe("relocateText", () => {
  it.each([
    ["export LMOD_PKG=/usr/share/lmod/lmod", `export LMOD_PKG=${P}/usr/share/lmod/lmod`, 1],
    [
      'local sys_lua_path = "/usr/local/share/lua/5.3/?.lua;/usr/share/lua/5.3/?.lua"',
      `local sys_lua_path = "${P}/usr/local/share/lua/5.3/?.lua;${P}/usr/share/lua/5.3/?.lua"`,
      2,
    ],
    ["MODULEPATH_INIT=/etc/lmod/modulespath", `MODULEPATH_INIT=${P}/etc/lmod/modulespath`, 1],
    [
      "$(/usr/share/lmod/lmod/libexec/addto --append MODULEPATH $dir)",
      `$(${P}/usr/share/lmod/lmod/libexec/addto --append MODULEPATH $dir)`,
      1,
    ],
    // not host paths: already in the prefix, inside a longer path, after a variable, in a URL
    [`#!${P}/usr/bin/lua5.3`, `#!${P}/usr/bin/lua5.3`, 0],
    [`cp \${HOME}/etc/x $dir/usr/y`, `cp \${HOME}/etc/x $dir/usr/y`, 0],
    ["see https://example.org/usr/share", "see https://example.org/usr/share", 0],
    ["/usr", "/usr", 0],
  ])("%s", (input, output, n) => {
    expect(relocateText(input, P)).toEqual({ text: output, substitutions: n });
  });
});

describe("relocatePackageText and relocateLdd on a tree", () => {
  let tree: string;
  beforeEach(() => {
    tree = mkdtempSync(join(tmpdir(), "textreloc-"));
    cpSync(new URL("./testdata/lmod-tree", import.meta.url), tree, { recursive: true });
  });
  afterEach(() => rmSync(tree, { recursive: true, force: true }));

  it("rewrites the package's text files found through dpkg's list, once", async () => {
    const r = await relocatePackageText({ treeDir: tree, prefix: P, packages: ["lmod", "not-installed"] });
    expect(r.notInstalled).toEqual(["not-installed"]);
    expect(r.changed.sort()).toEqual(["etc/profile.d/lmod.sh", "usr/share/lmod/8.6.19/init/profile"]);
    expect(r.substitutions).toBeGreaterThan(10);
    const sh = readFileSync(join(tree, "etc/profile.d/lmod.sh"), "utf8");
    expect(sh).toContain(`MODULEPATH_INIT="${P}/etc/lmod/modulespath"`);
    expect(sh).not.toMatch(/[\s"'(=]\/usr\/share\/lmod/);
    const again = await relocatePackageText({ treeDir: tree, prefix: P, packages: ["lmod"] });
    expect(again.substitutions).toBe(0);
  });

  it("re-points ldd's RTLDLIST", async () => {
    expect(await relocateLdd({ treeDir: tree, prefix: P })).toBe(false);
    writeFileSync(join(tree, "ldd"), "");
    const ldd = join(tree, "usr/bin/ldd");
    cpSync("/usr/bin/ldd", ldd);
    expect(await relocateLdd({ treeDir: tree, prefix: P })).toBe(true);
    expect(readFileSync(ldd, "utf8")).toMatch(
      new RegExp(`^RTLDLIST="${P}/lib/ld-linux.so.2 ${P}/lib64/ld-linux-x86-64.so.2`, "m"),
    );
    await relocateLdd({ treeDir: tree, prefix: P });
    expect(readFileSync(ldd, "utf8")).not.toContain(`${P}${P}`);
  });
});
