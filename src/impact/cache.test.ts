import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { log } from "../log.js";
import type { AbiProblem } from "./abi.js";
import { analyzerFingerprint, defaultCacheDir, openCache, saveCache, Verdicts } from "./cache.js";

const dir = mkdtempSync(join(tmpdir(), "impact-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const key = (n: number) => n.toString(16).padStart(64, "0");
const problem: AbiProblem = {
  kind: "version",
  by: "/cvmfs/sw/bin/zcrc",
  what: "ZLIB_1.2.12 (libz.so.1)",
  message: "/cvmfs/sw/bin/zcrc needs version ZLIB_1.2.12 of libz.so.1",
};

function fresh(name: string): string {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  return d;
}

describe("impact cache", () => {
  it("keeps this run's verdicts for the next one, under the analyzer's code fingerprint", async () => {
    const d = fresh("roundtrip");
    const v = new Verdicts();
    v.set(key(1), { problems: [problem], isolated: ["PyList_New"] });
    v.set(key(2), { problems: [], isolated: [] });
    await saveCache(d, v);
    const data = JSON.parse(readFileSync(join(d, "impact-cache.json"), "utf8"));
    expect(data.code).toBe(analyzerFingerprint());
    expect(statSync(join(d, "impact-cache.json")).mode & 0o777).toBe(0o600);
    const again = await openCache(d);
    expect(again.get(key(1))).toEqual({ problems: [problem], isolated: ["PyList_New"] });
    expect(again.get(key(2))).toEqual({ problems: [], isolated: [] });
    expect(again.get(key(3))).toBeUndefined();
    expect(again.hits).toBe(2);
  });

  it("writes each distinct problem once, and the verdicts read back share it", async () => {
    const d = fresh("shared-problems");
    const v = new Verdicts();
    v.set(key(1), { problems: [problem], isolated: [] });
    v.set(key(2), { problems: [{ ...problem }, { ...problem, what: "libm.so.6" }], isolated: ["x"] });
    await saveCache(d, v);
    const data = JSON.parse(readFileSync(join(d, "impact-cache.json"), "utf8"));
    expect(data.problems).toHaveLength(2);
    expect(data.verdicts).toEqual([
      [key(1), [0], []],
      [key(2), [0, 1], ["x"]],
    ]);
    const again = await openCache(d);
    expect(again.get(key(2))).toEqual({
      problems: [problem, { ...problem, what: "libm.so.6" }],
      isolated: ["x"],
    });
    expect(again.get(key(2))!.problems[0]).toBe(again.get(key(1))!.problems[0]);
  });

  it("uses no verdict written by other code (a cache of another compat version)", async () => {
    const d = fresh("other-code");
    const v = new Verdicts();
    v.set(key(1), { problems: [], isolated: [] });
    await saveCache(d, v);
    const file = join(d, "impact-cache.json");
    const data = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify({ ...data, code: "0".repeat(64) }));
    expect((await openCache(d)).get(key(1))).toBeUndefined();
  });

  it("drops entries that are not verdicts, and ignores a corrupt file with a warning", async () => {
    const d = fresh("hostile");
    const v = new Verdicts();
    v.set(key(1), { problems: [problem], isolated: ["PyList_New"] });
    await saveCache(d, v);
    const file = join(d, "impact-cache.json");
    const data = JSON.parse(readFileSync(file, "utf8"));
    // the problem table: [0] is the good one saveCache wrote; then a bad kind, a message that is no string, a null
    expect(data.problems).toEqual([[problem.kind, problem.by, problem.what, problem.message]]);
    data.problems.push(
      ["rootkit", problem.by, problem.what, problem.message],
      [problem.kind, "b", "w", 7],
      null,
    );
    data.verdicts.push(
      ["not-a-digest", [], []],
      [key(2), [1], []],
      [key(3), [2], []],
      [key(4), [3], []],
      [key(5), "[]"],
      [key(6), [], [], "extra"],
      [key(7), [], [7]],
      [key(8), [0.5], []],
      [key(9), [99], []],
      [key(10), [-1], []],
      [key(11), [0, 0], []],
    );
    writeFileSync(file, JSON.stringify(data));
    const loaded = await openCache(d);
    expect(loaded.get(key(1))).toEqual({ problems: [problem], isolated: ["PyList_New"] });
    for (let n = 2; n <= 11; n++) expect(loaded.get(key(n))).toBeUndefined();

    const warn = vi.spyOn(log, "warn").mockImplementation(() => {});
    writeFileSync(file, '{"format": "compat-impact-cache-v4", "verdicts": [');
    expect((await openCache(d)).get(key(1))).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("ignored"));
  });

  it("a FIFO or a symlink at the cache file is not read (no hang, no following)", async () => {
    const d = fresh("fifo");
    execFileSync("mkdir", ["-p", d]);
    const warn = vi.spyOn(log, "warn").mockImplementation(() => {});
    execFileSync("mkfifo", [join(d, "impact-cache.json")]);
    expect((await openCache(d)).get(key(1))).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("not a regular file"));
    rmSync(join(d, "impact-cache.json"));
    execFileSync("ln", ["-s", "/etc/passwd", join(d, "impact-cache.json")]);
    expect((await openCache(d)).get(key(1))).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("ELOOP"));
  });

  it("a cache file others may write is not trusted (its verdicts could hide a regression)", async () => {
    const d = fresh("shared");
    const v = new Verdicts();
    v.set(key(1), { problems: [problem], isolated: ["PyList_New"] });
    await saveCache(d, v);
    chmodSync(join(d, "impact-cache.json"), 0o666);
    const warn = vi.spyOn(log, "warn").mockImplementation(() => {});
    expect((await openCache(d)).get(key(1))).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("writable by others (mode 666)"));
    if (process.getuid?.() === 0) {
      chmodSync(join(d, "impact-cache.json"), 0o600);
      chownSync(join(d, "impact-cache.json"), 65534, 65534);
      expect((await openCache(d)).get(key(1))).toBeUndefined();
      expect(warn).toHaveBeenCalledWith(expect.stringContaining("owned by uid 65534, not by this user"));
    }
  });

  it("a cache that cannot be written is a warning, and nothing is left behind", async () => {
    const d = fresh("unwritable");
    writeFileSync(d, "a file where the directory should be");
    const warn = vi.spyOn(log, "warn").mockImplementation(() => {});
    await saveCache(d, new Verdicts());
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("not written"));
  });

  it("keeps this run's verdicts first, then earlier ones, up to its size", () => {
    const v = new Verdicts();
    const none = { problems: [], isolated: [] };
    v.preload([
      [key(1), none],
      [key(2), none],
    ]);
    v.set(key(3), none);
    expect(v.entries(2).map(([k]) => k)).toEqual([key(3), key(1)]);
  });

  it("lives under $COMPAT_CACHE_DIR, else the XDG cache", () => {
    expect(defaultCacheDir({ COMPAT_CACHE_DIR: "/srv/cache" })).toBe("/srv/cache/impact");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/x" })).toBe("/x/compat/impact");
  });
});
