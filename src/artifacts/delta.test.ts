import { describe, expect, it } from "vitest";
import { planDelta } from "./delta.js";
import type { EntryIndex, IndexEntry } from "./entry-index.js";

const f = (digest: string, mode = 0o644): IndexEntry => ({ type: "file", mode, size: 1, digest });
const d = (mode = 0o755): IndexEntry => ({ type: "directory", mode, size: 0, digest: "" });
const idx = (entries: Record<string, IndexEntry>): EntryIndex => new Map(Object.entries(entries));

describe("planDelta", () => {
  it("ships new and changed entries and lists what is gone", () => {
    const old = idx({
      "": d(),
      bin: d(),
      "bin/a": f("1"),
      "bin/b": f("2"),
      lib: d(),
      "lib/x": f("3"),
      "lib/y": f("4"),
    });
    const now = idx({
      "": d(),
      bin: d(),
      "bin/a": f("1", 0o755),
      "bin/b": f("2"),
      "bin/c": f("5"),
      lib: f("6"),
    });
    const plan = planDelta(old, now);
    expect([...plan.include].sort()).toEqual(["bin/a", "bin/c", "lib"]);
    // lib turned from a directory into a file: removed first (its children with it).
    expect(plan.deletions).toEqual(["lib"]);
  });

  it("ships a whole hard-link group when one member changed", () => {
    const old = idx({
      "": d(),
      a: f("1"),
      b: { type: "hardlink", mode: 0o644, size: 0, digest: "a" },
      c: f("9"),
    });
    const now = idx({
      "": d(),
      a: f("2"),
      b: { type: "hardlink", mode: 0o644, size: 0, digest: "a" },
      c: f("9"),
    });
    expect([...planDelta(old, now).include].sort()).toEqual(["a", "b"]);
  });

  it("is empty for the same tree", () => {
    const t = idx({ "": d(), a: f("1") });
    expect(planDelta(t, t)).toEqual({ include: new Set(), deletions: [] });
  });
});
