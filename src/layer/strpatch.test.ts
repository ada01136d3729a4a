import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { findWholeStrings, patchStrings, sameLengthDummy } from "./strpatch.js";

const bin = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));

describe("sameLengthDummy", () => {
  it.each([
    ["/etc/ld.so.cache", "/.no-ld.so.cache"],
    ["/etc/ld.so.preload", "/.no-ld.so.preload"],
    ["/lib/x86_64-linux-gnu/", "/.no-x86_64-linux-gnu/"],
    ["/usr/lib/x86_64-linux-gnu/", "/.no-lib/x86_64-linux-gnu/"],
    ["/usr/lib/", "/.no-lib/"],
    ["/lib/", "/.nn/"],
    ["/usr/lib/locale", "/.no-lib/locale"],
    ["/usr/share/locale", "/.no-share/locale"],
  ])("%s → %s", (from, to) => {
    expect(sameLengthDummy(from)).toBe(to);
    expect(to).toHaveLength(from.length);
  });
});

describe("patchStrings", () => {
  // the system directories as ld.so stores them: one NUL-separated run, after unrelated bytes
  const sample = bin(
    [9, 0, 0x80, 1],
    "/lib/x86_64-linux-gnu/",
    [0],
    "/usr/lib/x86_64-linux-gnu/",
    [0],
    "/lib/",
    [0],
    "/usr/lib/",
    [0],
    "x/usr/lib/",
    [0],
  );

  it("finds whole strings only", () => {
    expect(findWholeStrings(sample, "/lib/")).toHaveLength(1); // not inside /usr/lib/ nor x/usr/lib/
    expect(findWholeStrings(sample, "/usr/lib/")).toHaveLength(1); // "x/usr/lib/" is a longer string
    expect(findWholeStrings(sample, "/lib/x86_64-linux-gnu/")).toHaveLength(1); // after 0x01: a string start
    expect(findWholeStrings(bin("/usr/lib/locale/locale-archive", [0]), "/usr/lib/locale")).toHaveLength(0);
  });

  it("replaces them with same-length dummies and counts", () => {
    const r = patchStrings(sample, [
      { from: "/lib/", to: sameLengthDummy("/lib/") },
      { from: "/usr/lib/", to: sameLengthDummy("/usr/lib/"), count: 1 },
    ]);
    expect(r.counts).toEqual({ "/lib/": 1, "/usr/lib/": 1 });
    expect(r.buffer).toHaveLength(sample.length);
    expect(r.buffer.toString("latin1")).toContain("\0/.nn/\0/.no-lib/\0x/usr/lib/\0");
    expect(sample.toString("latin1")).toContain("\0/lib/\0/usr/lib/\0"); // the input is not changed
  });

  it("refuses when a string is missing or the count is off, changing nothing", () => {
    expect(() =>
      patchStrings(sample, [{ from: "/etc/ld.so.cache", to: "/.no-ld.so.cache" }], "ld.so"),
    ).toThrow(ValidationError);
    try {
      patchStrings(sample, [{ from: "/lib/", to: "/.nn/", count: 2 }], "ld.so");
    } catch (e) {
      expect((e as ValidationError).message).toBe(
        "ld.so: refusing to patch, the strings are not as expected",
      );
      expect((e as ValidationError).details).toEqual(["/lib/: found 1 time(s), expected 2"]);
    }
    expect(() => patchStrings(sample, [{ from: "/lib/", to: "/lib" }])).toThrow(/not the same length/);
  });

  it("recognises its own work, so a stage can run again", () => {
    const patches = [{ from: "/usr/lib/", to: "/.no-lib/" }];
    const once = patchStrings(sample, patches);
    const twice = patchStrings(once.buffer, patches);
    expect(twice.alreadyPatched).toEqual(["/usr/lib/"]);
    expect(twice.buffer.equals(once.buffer)).toBe(true);
  });
});
