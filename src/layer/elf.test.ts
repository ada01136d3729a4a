import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isDynamicExecutable, machineArch, parseElf, readElf, searchPathDirs } from "./elf.js";

/** What binutils' readelf says, as the reference for our parser. */
function readelfDynamic(path: string): {
  needed: string[];
  rpath?: string;
  runpath?: string;
  soname?: string;
} {
  const out = execFileSync("readelf", ["-dW", path], { encoding: "utf8" });
  const pick = (tag: string) =>
    [...out.matchAll(new RegExp(`\\(${tag}\\)\\s+.*\\[(.*)\\]`, "g"))].map((m) => m[1]!);
  return {
    needed: pick("NEEDED"),
    rpath: pick("RPATH")[0],
    runpath: pick("RUNPATH")[0],
    soname: pick("SONAME")[0],
  };
}

const hasReadelf = (() => {
  try {
    execFileSync("readelf", ["--version"]);
    return true;
  } catch {
    return false;
  }
})();

describe("readElf", () => {
  it("reads a dynamic executable's interpreter and needed libraries", async () => {
    const info = await readElf("/bin/ls");
    expect(info).toBeDefined();
    expect(info!.bits).toBe(64);
    expect(machineArch(info!.machine)).toBe(process.arch === "x64" ? "x86_64" : "aarch64");
    expect(info!.interpreter).toMatch(/^\/lib.*\/ld-linux.*\.so\.\d$/);
    expect(info!.needed).toContain("libc.so.6");
    expect(isDynamicExecutable(info!)).toBe(true);
    expect(info!.pie).toBe(true);
  });

  it("reads a shared library's soname and has no interpreter", async () => {
    const libc = execFileSync("sh", ["-c", "ldd /bin/ls | awk '/libc.so.6/ {print $3}'"], {
      encoding: "utf8",
    }).trim();
    const info = await readElf(libc);
    expect(info?.soname).toBe("libc.so.6");
    expect(info?.type).toBe("dyn");
  });

  it.runIf(hasReadelf)("agrees with readelf on DT_NEEDED, RPATH, RUNPATH and SONAME", async () => {
    for (const p of ["/bin/ls", "/usr/bin/python3", "/usr/bin/perl", "/bin/bash", "/usr/bin/patchelf"]) {
      const want = readelfDynamic(p);
      const got = await readElf(p);
      expect(got?.needed, p).toEqual(want.needed);
      expect(got?.rpath, p).toEqual(want.rpath);
      expect(got?.runpath, p).toEqual(want.runpath);
      expect(got?.soname, p).toEqual(want.soname);
    }
  });

  it("sees an RPATH set by patchelf", async () => {
    const dir = mkdtempSync(join(tmpdir(), "elf-"));
    const copy = join(dir, "true");
    writeFileSync(copy, readFileSync("/bin/true"));
    execFileSync("patchelf", ["--force-rpath", "--set-rpath", "/opt/x/lib:$ORIGIN/../lib", copy]);
    execFileSync("patchelf", ["--set-interpreter", "/opt/x/lib64/ld.so", copy]);
    const info = await readElf(copy);
    expect(info?.rpath).toBe("/opt/x/lib:$ORIGIN/../lib");
    expect(info?.runpath).toBeUndefined();
    expect(info?.interpreter).toBe("/opt/x/lib64/ld.so");
    expect(searchPathDirs(info?.rpath, "/p/bin")).toEqual(["/opt/x/lib", "/p/bin/../lib"]);
  });

  it("returns undefined for non-ELF, truncated and corrupt input", async () => {
    expect(await parseElf(Buffer.from("#!/bin/sh\necho hi\n"))).toBeUndefined();
    const ls = readFileSync("/bin/ls");
    expect(await parseElf(ls.subarray(0, 40))).toBeUndefined();
    const corrupt = Buffer.from(ls);
    corrupt.writeBigUInt64LE(0xffffffffn, 32); // e_phoff far beyond the end
    expect(await parseElf(corrupt)).toBeUndefined();
  });
});
