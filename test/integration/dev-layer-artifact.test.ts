/**
 * The real development layer (examples/dev.yaml, built once per run by test/helpers/dev-layer.ts)
 * through the built CLI: packed twice to identical bytes, accepted by verify, published into a
 * local repository and rolled back, and the same as its artifact by diff.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compat } from "../helpers/cli.js";
import { type DevLayer, devLayer } from "../helpers/dev-layer.js";
import { treeDigest } from "../helpers/layer-tree.js";
import { cycloneDx16, spdx23 } from "../helpers/sbom-schemas.js";

let dev: DevLayer;
let work: string;

beforeAll(async () => {
  dev = await devLayer();
  work = mkdtempSync(join(tmpdir(), "compat-dev-artifact-"));
}, 900_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const pack = (out: string, extra: string[] = []) =>
  compat([
    "pack",
    dev.specFile,
    "--arch",
    dev.layer.arch,
    "--root",
    dev.root,
    "-o",
    join(work, out),
    "--json",
    ...extra,
  ]);

describe("the dev layer as an artifact", () => {
  let artifact: string;

  it("packs twice to identical bytes, with the spec, packages and build record in the manifest", () => {
    const a = pack("a");
    const b = pack("b");
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const ra = JSON.parse(a.stdout);
    const rb = JSON.parse(b.stdout);
    expect(ra.artifact).toMatch(/\/dev-2025\.06-compat-linux-x86_64-\d+\.tar\.zst$/);
    expect(ra.sha256).toBe(rb.sha256);
    expect(readFileSync(ra.artifact).equals(readFileSync(rb.artifact))).toBe(true);
    const manifest = JSON.parse(readFileSync(ra.manifest, "utf8"));
    expect(manifest).toMatchObject({
      flavor: "debian",
      packageDatabase: "dpkg",
      topDir: "2025.06/compat/linux/x86_64",
    });
    expect(manifest.specHash).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.packages.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(["python3", "lmod", "perl"]),
    );
    expect(manifest.buildRecord).toMatchObject({ flavor: "debian", specHash: manifest.specHash });
    // The build time is the build's SOURCE_DATE_EPOCH: the name's epoch.
    expect(manifest.buildTime).toBe(manifest.buildRecord.sourceDateEpoch);
    expect(ra.artifact).toMatch(new RegExp(`-${manifest.buildRecord.sourceDateEpoch}\\.tar\\.zst$`));
    artifact = ra.artifact;

    // The prefix alone packs to the same artifact: build.json names the stack.
    expect(manifest.buildRecord).toMatchObject({
      stack: "dev",
      repository: "software.example.org",
      version: "2025.06",
      os: "linux",
    });
    const fromPrefix = compat(["pack", dev.localPrefix, "-o", join(work, "from-prefix"), "--json"]);
    expect(fromPrefix.status, fromPrefix.stderr).toBe(0);
    expect(JSON.parse(fromPrefix.stdout)).toMatchObject({ sha256: ra.sha256 });
    expect(JSON.parse(fromPrefix.stdout).artifact).toMatch(
      /\/dev-2025\.06-compat-linux-x86_64-\d+\.tar\.zst$/,
    );
  });

  it("has a CycloneDX 1.6 SBOM beside its manifest; compat sbom of the layer and of the artifact validate too", () => {
    const validate = cycloneDx16();
    const packed = JSON.parse(readFileSync(`${artifact}.cdx.json`, "utf8"));
    expect(validate(packed)).toEqual([]);
    const manifest = JSON.parse(readFileSync(`${artifact}.manifest.json`, "utf8"));
    expect(packed.metadata.component).toMatchObject({
      name: "dev-2025.06-compat-linux-x86_64",
      hashes: [{ alg: "SHA-256", content: manifest.sha256 }],
    });
    expect(packed.metadata.timestamp).toBe(
      new Date(manifest.buildTime * 1000).toISOString().replace(/\.000Z$/, "Z"),
    );
    const purls = (doc: { components: { type: string; purl?: string }[] }) =>
      doc.components.filter((c) => c.type === "library").map((c) => c.purl);
    expect(purls(packed)).toHaveLength(manifest.packages.length);
    expect(purls(packed)).toContainEqual(
      expect.stringMatching(/^pkg:deb\/debian\/libc6@[^?]+\?arch=amd64&distro=debian-12&upstream=glibc$/),
    );

    const ofLayer = compat(["sbom", dev.localPrefix]);
    expect(ofLayer.status, ofLayer.stderr).toBe(0);
    const layerDoc = JSON.parse(ofLayer.stdout);
    expect(validate(layerDoc)).toEqual([]);
    expect(purls(layerDoc)).toEqual(purls(packed));
    expect(compat(["sbom", dev.localPrefix]).stdout).toBe(ofLayer.stdout); // the same bytes twice

    const ofArtifact = compat(["sbom", artifact, "--format", "spdx", "-o", join(work, "dev.spdx.json")]);
    expect(ofArtifact.status, ofArtifact.stderr).toBe(0);
    const spdxDoc = JSON.parse(readFileSync(join(work, "dev.spdx.json"), "utf8"));
    expect(spdx23()(spdxDoc)).toEqual([]);
    expect(spdxDoc.packages).toHaveLength(manifest.packages.length + 1);
  });

  it("is accepted by verify", () => {
    const r = compat(["verify", artifact, "--json"]);
    expect(r.status, r.stdout).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, violationCount: 0 });
    expect(report.members).toBeGreaterThan(1000);
  });

  it("is the same layer as its prefix (diff exits 0), publishes and rolls back", () => {
    const d = compat(["diff", artifact, dev.localPrefix, "--json"]);
    expect(d.status, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).packages.unchanged).toBeGreaterThan(50);

    const repo = join(work, "repo");
    mkdirSync(repo);
    const first = compat(["publish", artifact, "--to", `local:${repo}`, "--json"]);
    expect(first.status, first.stderr).toBe(0);
    const published = JSON.parse(first.stdout).path;
    expect(treeDigest(published)).toBe(treeDigest(dev.localPrefix));
    // The published prefix, checked without its spec (EESSI 2025.06's host links, /etc/localtime too).
    const check = compat(["check", published, "--json"]);
    expect(check.status, check.stdout).toBe(0);
    expect(JSON.parse(check.stdout).summary).toMatchObject({ failed: 0, ok: true });
    // The same artifact again changes nothing and keeps no second copy.
    const again = compat(["publish", artifact, "--to", `local:${repo}`, "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ method: "unchanged", backup: null });
    expect(readdirSync(dirname(published))).toEqual(["x86_64"]);
    expect(compat(["publish", artifact, "--to", `local:${repo}`]).stdout).toMatch(
      /already published .*: .* is this artifact \(sha256 [0-9a-f]{64}\); nothing changed/,
    );
    // The same tree with another build time is another artifact: it replaces the layer, which is kept.
    const epoch = JSON.parse(readFileSync(`${artifact}.manifest.json`, "utf8")).buildTime + 1;
    const other = pack("other", ["--epoch", String(epoch)]);
    expect(other.status, other.stderr).toBe(0);
    const replaced = compat([
      "publish",
      JSON.parse(other.stdout).artifact,
      "--to",
      `local:${repo}`,
      "--json",
    ]);
    expect(JSON.parse(replaced.stdout).backup).toBe(".x86_64-001");
    expect(compat(["rollback", "--to", `local:${repo}`]).status).toBe(0);
    expect(treeDigest(published)).toBe(treeDigest(dev.localPrefix));
    const h = JSON.parse(compat(["history", "--to", `local:${repo}`, "--json"]).stdout);
    expect(h.events.map((e: { action: string }) => e.action)).toEqual(["publish", "publish", "rollback"]);
  });
});
