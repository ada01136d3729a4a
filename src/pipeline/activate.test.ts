import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { activateLayer, nextKeptName } from "./activate.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "compat-activate-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function layer(path: string, marker: string) {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, "marker"), marker);
}

describe("nextKeptName", () => {
  it("numbers kept layers as EESSI's ingest does: last suffix + 1, three digits", () => {
    expect(nextKeptName(dir, "x86_64")).toBe(".x86_64-001");
    for (const n of [".x86_64-001", ".x86_64-007", ".aarch64-020", "x86_64-099", ".x86_64-abc"])
      mkdirSync(join(dir, n));
    expect(nextKeptName(dir, "x86_64")).toBe(".x86_64-008");
    expect(nextKeptName(dir, "aarch64")).toBe(".aarch64-021");
  });
});

describe("activateLayer", () => {
  it("moves a first layer into place", async () => {
    const built = join(dir, ".build-1", "prefix");
    layer(built, "new");
    const target = join(dir, "x86_64");
    expect(await activateLayer(built, target, join(dir, "intent-1.json"))).toBeUndefined();
    expect(readFileSync(join(target, "marker"), "utf8")).toBe("new");
  });

  it("keeps the layer it replaces as .<arch>-NNN", async () => {
    const target = join(dir, "x86_64");
    layer(target, "old");
    layer(join(dir, ".build-2", "prefix"), "new");
    const previous = await activateLayer(join(dir, ".build-2", "prefix"), target, join(dir, "intent-2.json"));
    expect(previous).toBe(join(dir, ".x86_64-001"));
    expect(readFileSync(join(target, "marker"), "utf8")).toBe("new");
    expect(readFileSync(join(dir, ".x86_64-001", "marker"), "utf8")).toBe("old");

    layer(join(dir, ".build-3", "prefix"), "newer");
    expect(await activateLayer(join(dir, ".build-3", "prefix"), target, join(dir, "intent-3.json"))).toBe(
      join(dir, ".x86_64-002"),
    );
    expect(readFileSync(join(dir, ".x86_64-002", "marker"), "utf8")).toBe("new");
  });

  it("finishes a move interrupted between its two renames, and is a no-op once done", async () => {
    const target = join(dir, "x86_64");
    const built = join(dir, ".build-4", "prefix");
    const intent = join(dir, "intent-4.json");
    layer(target, "old");
    layer(built, "new");
    // what a build killed after the first rename leaves behind
    writeFileSync(intent, JSON.stringify({ built, target, previous: join(dir, ".x86_64-001") }));
    renameSync(target, join(dir, ".x86_64-001"));
    expect(await activateLayer(built, target, intent)).toBe(join(dir, ".x86_64-001"));
    expect(readFileSync(join(target, "marker"), "utf8")).toBe("new");
    // run again after it completed (killed before the stage's marker was written)
    expect(await activateLayer(built, target, intent)).toBe(join(dir, ".x86_64-001"));
    expect(readdirSync(dir).sort()).toEqual([".build-4", ".x86_64-001", "intent-4.json", "x86_64"]);
  });

  it("refuses when the built layer is gone and nothing was moved", async () => {
    await expect(
      activateLayer(join(dir, "missing"), join(dir, "x86_64"), join(dir, "i.json")),
    ).rejects.toThrow(/built layer .* is missing/);
  });
});
