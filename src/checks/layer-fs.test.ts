import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LayerFs } from "./layer-fs.js";

describe("LayerFs (a directory listed once it missed many names)", () => {
  const dir = mkdtempSync(join(tmpdir(), "layer-fs-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const prefix = "/cvmfs/example.org/compat";
  mkdirSync(join(dir, "lib"));
  for (const f of ["libz.so.1", "libc.so.6", "odd name\u00e9.so"]) writeFileSync(join(dir, "lib", f), "x");
  symlinkSync("libz.so.1", join(dir, "lib", "libz.so"));

  it("answers as lstat does before and after the listing", () => {
    const fs = new LayerFs({ prefix, localPrefix: dir });
    const ask = (name: string) => fs.resolve(`${prefix}/lib/${name}`).ok;
    for (let i = 0; i < 40; i++) expect(ask(`libmissing${i}.so`)).toBe(false);
    expect(ask("libz.so.1")).toBe(true);
    expect(ask("libz.so")).toBe(true);
    expect(ask("libc.so.6")).toBe(true);
    expect(ask("odd name\u00e9.so")).toBe(true);
    expect(ask("libmissing0.so")).toBe(false);
    expect(ask("libc.so")).toBe(false);
  });
});

describe("LayerFs.readText", () => {
  const dir = mkdtempSync(join(tmpdir(), "compat-layerfs-text-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const prefix = "/cvmfs/example.org/compat";

  it("reads a small file and refuses one larger than any file the checks read", () => {
    mkdirSync(join(dir, "etc"));
    writeFileSync(join(dir, "etc/ld.so.conf"), "include /etc/ld.so.conf.d/*.conf\n");
    const big = openSync(join(dir, "etc/huge.conf"), "w");
    ftruncateSync(big, 17 * 1024 * 1024); // sparse: no 17 MB written
    closeSync(big);
    const fs = new LayerFs({ prefix, localPrefix: dir });
    expect(fs.readText(`${prefix}/etc/ld.so.conf`)).toMatch(/^include/);
    expect(fs.readText(`${prefix}/etc/missing.conf`)).toBeUndefined();
    expect(() => fs.readText(`${prefix}/etc/huge.conf`)).toThrow(/17825792 bytes, more than/);
  });
});
