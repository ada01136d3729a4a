import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ArtifactManifest, DeltaPatch } from "../artifacts/manifest.js";
import { LocalHost } from "../exec/host.js";
import { deleteBeforeExtracting, patchAfterExtracting } from "./delta-apply.js";
import { deltaLayerViolations, type LayerListing, listLayer, requireLayerDirectory } from "./layer-guard.js";

const work = mkdtempSync(join(tmpdir(), "compat-guard-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const patch = (path: string, from = path): DeltaPatch => ({
  path,
  from,
  member: ".compat-delta/000001",
  method: "zstd-patch-from",
  baseSha256: "0".repeat(64),
  baseSize: 1,
  sha256: "0".repeat(64),
  size: 1,
  mode: 0o644,
  mtime: 0,
});

const delta = (deletions: string[], patches: DeltaPatch[] = []) =>
  ({
    artifact: "d",
    kind: "delta",
    delta: { base: { artifact: "b", sha256: "0" }, deletions, patches },
  }) as unknown as ArtifactManifest;

const listing: LayerListing = {
  entries: new Map(),
  symlinks: new Map([
    ["lib", "/outside"],
    ["usr/link", "../etc"],
  ]),
  nonRegular: new Map([
    ["lib", "symlink"],
    ["usr", "directory"],
    ["usr/link", "symlink"],
    ["usr/share", "directory"],
  ]),
};

describe("deltaLayerViolations", () => {
  it("names the member and the layer's symlink it would be reached through", () => {
    const v = deltaLayerViolations(
      delta([]),
      [{ path: "" }, { path: "lib" }, { path: "lib/x/y" }, { path: "usr/link/passwd" }],
      listing,
    );
    expect(v.map((x) => `${x.rule} ${x.member}: ${x.message}`)).toEqual([
      "symlink-escape lib/x/y: reached through lib -> /outside, a symlink of the published layer",
      "symlink-escape usr/link/passwd: reached through usr/link -> ../etc, a symlink of the published layer",
    ]);
  });

  it("checks hard-link targets, deletions and patch paths", () => {
    const v = deltaLayerViolations(
      delta(["lib/a", "old"], [patch("usr/share"), patch("new", "lib/old"), patch("usr/link")]),
      [{ path: "h", linkTarget: "lib/shadow" }],
      listing,
    );
    expect(v.map((x) => `${x.rule} ${x.member}`)).toEqual([
      "symlink-escape h",
      "symlink-escape lib/a",
      "delta-patch usr/share",
      "symlink-escape new",
      "symlink-escape usr/link",
    ]);
    expect(v[0]!.message).toBe(
      "its hard-link target lib/shadow is reached through lib -> /outside, a symlink of the published layer",
    );
  });

  it("lets a delta replace a symlink it deletes first, but not delete through one", () => {
    expect(deltaLayerViolations(delta(["lib"]), [{ path: "lib" }, { path: "lib/x" }], listing)).toEqual([]);
    expect(deltaLayerViolations(delta(["lib", "lib/x"]), [], listing).map((x) => x.member)).toEqual([
      "lib/x",
    ]);
  });
});

describe("on the layer's host", () => {
  const host = new LocalHost();

  it("lists symlinks (odd names too) and refuses a layer that is a symlink", async () => {
    const layer = join(work, "layer");
    mkdirSync(join(layer, "d"), { recursive: true });
    symlinkSync("/etc", join(layer, "d/new\nline"));
    writeFileSync(join(layer, "f"), "");
    const l = await listLayer(host, layer);
    expect([...l.symlinks]).toEqual([["d/new\nline", "/etc"]]);
    expect(l.nonRegular.get("d")).toBe("directory");
    expect(l.nonRegular.has("f")).toBe(false);
    symlinkSync(layer, join(work, "alias"));
    await expect(listLayer(host, join(work, "alias"))).rejects.toThrow(
      /is a symlink, not the layer directory/,
    );
    await expect(listLayer(host, join(layer, "f"))).rejects.toThrow(/is not a directory/);
  });

  it("after extracting, a layer that is a symlink or a file is not published", async () => {
    const dir = join(work, "extracted");
    mkdirSync(dir);
    await requireLayerDirectory(host, dir, "a");
    symlinkSync(dir, join(work, "extracted-alias"));
    writeFileSync(join(work, "extracted-file"), "");
    for (const p of [join(work, "extracted-alias"), join(work, "extracted-file"), join(work, "missing")])
      await expect(requireLayerDirectory(host, p, "a")).rejects.toThrow(/did not produce a directory/);
  });

  it("the apply script refuses a layer that is a symlink, and a patch onto a directory", async () => {
    const real = join(work, "real");
    mkdirSync(join(real, "victim-dir"), { recursive: true });
    writeFileSync(join(real, "victim"), "x");
    symlinkSync(real, join(work, "real-alias"));
    await expect(deleteBeforeExtracting(host, join(work, "real-alias"), delta(["victim"]))).rejects.toThrow(
      /is a symlink or not a directory/,
    );
    expect(readdirSync(real).sort()).toEqual(["victim", "victim-dir"]);

    const old = Buffer.from("old\n".repeat(100));
    const now = Buffer.from("new\n");
    writeFileSync(join(real, "base"), old);
    writeFileSync(join(work, "new"), now);
    mkdirSync(join(real, ".compat-delta"));
    execFileSync("zstd", [
      "-q",
      `--patch-from=${join(real, "base")}`,
      join(work, "new"),
      "-o",
      join(real, ".compat-delta/000001"),
    ]);
    const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
    const p = { ...patch("victim-dir", "base"), baseSha256: sha(old), sha256: sha(now) };
    await expect(patchAfterExtracting(host, real, delta(["base"], [p]))).rejects.toThrow(
      /victim-dir exists and is not a regular file/,
    );
    expect(readdirSync(join(real, "victim-dir"))).toEqual([]);
  });
});
