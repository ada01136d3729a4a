import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BuildRootCache } from "./cache.js";

const ID = "a".repeat(64);
let dir: string;
let cache: BuildRootCache;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "compat-brcache-"));
  cache = new BuildRootCache(join(dir, "state"));
  await cache.open();
  mkdirSync(cache.entryDir("x86_64", ID));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("markUse (F2)", () => {
  it("makes and re-times its own last-used stamp", async () => {
    await cache.markUse("x86_64", ID);
    expect(await cache.lastUsed("x86_64", ID)).toBeInstanceOf(Date);
    await cache.markUse("x86_64", ID);
    await cache.releaseUse(ID);
  });

  it("never writes through a planted last-used link (dangling or not)", async () => {
    const stamp = join(cache.entryDir("x86_64", ID), "last-used");
    const target = join(dir, "created-through-link");
    symlinkSync(target, stamp);
    await expect(cache.markUse("x86_64", ID)).rejects.toThrow(/last-used is not a regular file/);
    expect(existsSync(target)).toBe(false);
    expect(readlinkSync(stamp)).toBe(target);

    writeFileSync(target, "keep");
    const before = lstatSync(target).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await expect(cache.markUse("x86_64", ID)).rejects.toThrow(/not a regular file/);
    expect(lstatSync(target).mtimeMs).toBe(before);
  });
});
