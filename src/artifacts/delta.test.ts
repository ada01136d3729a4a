import { describe, expect, it } from "vitest";
import { applyDeltaToIndex, deletionPhases, planDelta } from "./delta.js";
import { type EntryIndex, type IndexEntry, treeSha256 } from "./entry-index.js";

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
    expect(planDelta(t, t)).toEqual({ include: new Set(), deletions: [], patchable: [] });
  });
});

const big = (digest: string, size = 100_000, mode = 0o755): IndexEntry => ({
  type: "file",
  mode,
  size,
  digest,
});

describe("planDelta: patches", () => {
  it("offers changed files of patchable size, against the same path or a renamed versioned file", () => {
    const old = idx({
      "": d(),
      lib: d(),
      "lib/libssl.so.3": big("1"),
      "lib/libfoo.so.1.2.3": big("2"),
      "lib/small": f("3"),
      doc: d(),
      "doc/openssl-3.0.13": d(),
      "doc/openssl-3.0.13/README": big("4", 9000),
    });
    const now = idx({
      "": d(),
      lib: d(),
      "lib/libssl.so.3": big("5"),
      "lib/libfoo.so.1.2.4": big("6"),
      "lib/small": f("7"),
      doc: d(),
      "doc/openssl-3.0.14": d(),
      "doc/openssl-3.0.14/README": big("8", 9100),
    });
    const plan = planDelta(old, now);
    expect(plan.patchable).toEqual([
      { path: "doc/openssl-3.0.14/README", from: "doc/openssl-3.0.13/README" },
      { path: "lib/libfoo.so.1.2.4", from: "lib/libfoo.so.1.2.3" },
      { path: "lib/libssl.so.3", from: "lib/libssl.so.3" },
    ]);
    expect(plan.deletions).toEqual(["doc/openssl-3.0.13", "lib/libfoo.so.1.2.3"]);
    // The renamed files' old versions are removed after the patches read them.
    expect(deletionPhases(plan.deletions, plan.patchable)).toEqual({
      before: [],
      after: ["doc/openssl-3.0.13", "lib/libfoo.so.1.2.3"],
    });
  });

  it("picks the renamed base closest in size", () => {
    const old = idx({
      "": d(),
      "a-1.so": big("1", 50_000),
      "a-2.so": big("2", 99_000),
      "a-3.so": big("3", 10_000),
    });
    const now = idx({ "": d(), "a-4.so": big("4", 100_000) });
    expect(planDelta(old, now).patchable).toEqual([{ path: "a-4.so", from: "a-2.so" }]);
  });

  it("does not patch hard-link groups, files that were not regular files, or from a deletion the new tree re-creates", () => {
    const old = idx({
      "": d(),
      a: big("1"),
      b: { type: "symlink", mode: 0o777, size: 0, digest: "x" },
      "v-1": d(),
      "v-1/f": big("2"),
    });
    const now = idx({
      "": d(),
      a: big("3"),
      "a-link": { type: "hardlink", mode: 0o755, size: 0, digest: "a" },
      b: big("4"),
      // v-1 turned into a file: its old children cannot be read after it is extracted.
      "v-1": big("5"),
      "v-2": d(),
      "v-2/f": big("6"),
    });
    const plan = planDelta(old, now);
    expect(plan.patchable).toEqual([]);
    expect(deletionPhases(plan.deletions, plan.patchable)).toEqual({ before: ["b", "v-1"], after: [] });
  });
});

describe("applyDeltaToIndex", () => {
  it("removes deletions with what is below them, then puts in the members and the patches' results", () => {
    const base = idx({
      "": d(),
      a: f("1"),
      dir: d(),
      "dir/x": f("2"),
      "dir/y": f("3"),
      keep: f("4"),
      old: f("5"),
    });
    const members = idx({
      "": d(),
      a: f("9"),
      dir: f("6"),
      ".compat-delta": d(),
      ".compat-delta/000001": f("p"),
    });
    const out = applyDeltaToIndex(base, ["dir", "old"], members, [
      { path: "new", sha256: "7", size: 3, mode: 0o755, mtime: 5 },
    ]);
    expect([...out.keys()].sort()).toEqual(["", "a", "dir", "keep", "new"]);
    expect(out.get("a")!.digest).toBe("9");
    expect(out.get("dir")!.type).toBe("file");
    expect(out.get("new")).toEqual({ type: "file", mode: 0o755, size: 3, digest: "7", mtime: 5 });
  });
});

describe("treeSha256", () => {
  it("sees hard links as files and leaves nested-catalog markers and mtimes out", () => {
    const a = idx({ "": d(), x: f("1"), y: { type: "hardlink", mode: 0o644, size: 0, digest: "x" } });
    const b = idx({
      "": d(),
      x: { ...f("1"), mtime: 5 },
      y: f("1"),
      ".cvmfscatalog": f("e"),
      "z/.cvmfscatalog": f("e"),
    });
    expect(treeSha256(a)).toBe(treeSha256(b));
    expect(treeSha256(a)).not.toBe(treeSha256(idx({ "": d(), x: f("1"), y: f("2") })));
    expect(treeSha256(a)).not.toBe(treeSha256(idx({ "": d(), x: f("1", 0o600), y: f("1") })));
  });
});
