import { describe, expect, it } from "vitest";
import type { EntryIndex, IndexEntry } from "../artifacts/entry-index.js";
import { planReplacement, planUndo } from "./change-plan.js";

const f = (digest: string, mode = 0o644): IndexEntry => ({ type: "file", mode, size: 1, digest });
const d = (mode = 0o755): IndexEntry => ({ type: "directory", mode, size: 0, digest: "" });
const l = (target: string): IndexEntry => ({ type: "symlink", mode: 0o777, size: 0, digest: target });
const h = (target: string): IndexEntry => ({ type: "hardlink", mode: 0o755, size: 0, digest: target });
const idx = (entries: Record<string, IndexEntry>): EntryIndex =>
  new Map(Object.entries({ "": d(), ...entries }));

describe("planReplacement", () => {
  it("writes only what differs and deletes what is gone, never the repository's catalog markers", () => {
    const live = idx({
      ".cvmfscatalog": f("e"),
      bin: d(),
      "bin/tool": f("1", 0o755),
      "bin/same": f("2"),
      "bin/old": f("3"),
      lib: l("usr/lib"),
      "usr/share/nested/.cvmfscatalog": f("e"),
      usr: d(),
      "usr/share": d(),
      "usr/share/nested": d(),
    });
    const target = idx({
      bin: d(),
      "bin/tool": f("9", 0o755),
      "bin/same": f("2"),
      "bin/mode": f("2", 0o600),
      lib: d(),
      "lib/x": f("4"),
      usr: d(),
      "usr/share": d(),
      "usr/share/nested": d(),
    });
    const plan = planReplacement(live, target);
    expect([...plan.include].sort()).toEqual(["bin/mode", "bin/tool", "lib", "lib/x"]);
    expect(plan.deletions).toEqual(["bin/old", "lib"]);
  });

  it("compares hard links as the files they are (the published layer has them broken up)", () => {
    const live = idx({ a: f("1"), b: f("1") });
    const target = idx({ a: f("1"), b: { ...h("a"), mode: 0o644 } });
    expect(planReplacement(live, target)).toEqual({ include: new Set(), deletions: [] });
  });
});

describe("planUndo", () => {
  it("keeps the layer's entries the change touches and deletes the topmost of what it creates", () => {
    const live = idx({
      bin: d(),
      "bin/tool": f("1"),
      gone: d(),
      "gone/x": f("2"),
      "gone/y/z": f("3"),
      link: l("bin"),
    });
    const plan = planUndo(live, {
      writes: new Map([
        ["bin/tool", "file"],
        ["new", "directory"],
        ["new/a", "file"],
        ["link", "directory"],
        ["link/inside", "file"],
        [".compat-delta/000001", "file"],
      ]),
      deletions: ["gone", "link"],
    });
    expect(plan.members).toEqual(["", "bin/tool", "gone", "gone/x", "gone/y/z", "link"]);
    expect(plan.deletions).toEqual(["link", "new"]);
  });
});
