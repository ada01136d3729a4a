import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { walk } from "./tree.js";

const root = mkdtempSync(join(tmpdir(), "compat-walk-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("walk", () => {
  mkdirSync(join(root, "b/c"), { recursive: true });
  writeFileSync(join(root, "a"), "x");
  writeFileSync(join(root, "b/c/d"), "");
  writeFileSync(join(root, "B"), "");
  symlinkSync("/etc", join(root, "b/link"));

  it("lists the root, then each directory's entries in byte order, depth first, never through a link", () => {
    const seen = [...walk(root)].map((e) => `${e.rel}:${e.kind}`);
    expect(seen).toEqual([":dir", "B:file", "a:file", "b:dir", "b/c:dir", "b/c/d:file", "b/link:symlink"]);
  });

  it("takes the kinds from the listing without lstat when asked", () => {
    const entries = [...walk(root, { stat: false })];
    expect(entries.map((e) => e.kind)).toEqual(["dir", "file", "file", "dir", "dir", "file", "symlink"]);
    expect(entries.slice(1).every((e) => e.st === undefined)).toBe(true);
  });

  it("refuses a name that is not UTF-8 unless asked to decode it lossily", () => {
    const dir = mkdtempSync(join(tmpdir(), "compat-walk-latin1-"));
    try {
      writeFileSync(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9])]), "");
      expect(() => [...walk(dir)]).toThrow(InputError);
      expect([...walk(dir, { names: "lossy", stat: false })].map((e) => e.rel)).toEqual(["", "caf\uFFFD"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
