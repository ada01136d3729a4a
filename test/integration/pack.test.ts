/**
 * Packing real trees with the real compressors and reading the result back with GNU tar:
 * same tree → same bytes, GNU tar extracts exactly the tree, the verifier accepts it, signatures,
 * deltas and diffs.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffLayers, loadSide } from "../../src/artifacts/diff.js";
import { readManifest } from "../../src/artifacts/manifest.js";
import { packLayer } from "../../src/artifacts/pack.js";
import { generateKeyPair } from "../../src/artifacts/sign.js";
import { verifyArtifact } from "../../src/artifacts/verify.js";
import { compat } from "../helpers/cli.js";
import { dpkgStatus, LAYER, makeLayerTree, TOP_DIR, treeDigest } from "../helpers/layer-tree.js";

let work: string;
let prefix: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "compat-pack-"));
  prefix = join(work, "root/versions", TOP_DIR);
  makeLayerTree(prefix);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const pack = (outDir: string, extra: Partial<Parameters<typeof packLayer>[0]> = {}) =>
  packLayer({ ...LAYER, prefix, outDir: join(work, outDir), epoch: 1_750_000_000, ...extra });

describe("pack", () => {
  it("gives identical bytes for the same tree, for zstd and gzip", async () => {
    for (const compression of ["zstd", "gzip"] as const) {
      const a = await pack(`same-a-${compression}`, { compression });
      const b = await pack(`same-b-${compression}`, { compression });
      expect(a.manifest.artifact).toBe(
        `dev-2025.06-compat-linux-x86_64-1750000000.tar.${compression === "zstd" ? "zst" : "gz"}`,
      );
      expect(readFileSync(a.artifact).equals(readFileSync(b.artifact))).toBe(true);
      expect(a.manifest.sha256).toBe(b.manifest.sha256);
    }
  });

  it("packs the same bytes again into the same name, and never replaces another layer of that name", async () => {
    const first = await pack("same-name");
    const again = await pack("same-name");
    expect(again.manifest.sha256).toBe(first.manifest.sha256);
    const other = join(work, "other-layer", "root/versions", TOP_DIR);
    makeLayerTree(other);
    writeFileSync(join(other, "etc/extra.conf"), "another layer, same name\n");
    await expect(pack("same-name", { prefix: other })).rejects.toThrow(
      /same-name\/dev-2025\.06-compat-linux-x86_64-1750000000\.tar\.zst already exists with other content/,
    );
    expect((await readManifest(first.manifestPath)).manifest.sha256).toBe(first.manifest.sha256);
    expect(readdirSync(join(work, "same-name")).filter((f) => f.includes("partial"))).toEqual([]);
    expect((await verifyArtifact(first.artifact)).ok).toBe(true);
  });

  it("writes a standard archive: GNU tar lists the top dir and extracts exactly the tree", async () => {
    const r = await pack("gnu");
    const listing = execFileSync("tar", ["-tvf", r.artifact], { encoding: "utf8" }).trim().split("\n");
    expect(listing[0]).toMatch(new RegExp(`^drwx.* root/root .* ${TOP_DIR}/$`));
    expect(listing.every((l) => l.includes(` ${TOP_DIR}`))).toBe(true);
    expect(listing.some((l) => l.includes(" link to "))).toBe(true); // the hard link stayed one
    const out = join(work, "gnu-extract");
    execFileSync("mkdir", ["-p", out]);
    execFileSync("tar", ["-x", "-p", "-C", out, "-f", r.artifact]);
    expect(treeDigest(join(out, TOP_DIR))).toBe(treeDigest(prefix));
    // mtimes are clamped to the build time and nothing is newer
    const mtimes = execFileSync("find", [join(out, TOP_DIR), "-newermt", "@1750000001"], {
      encoding: "utf8",
    }).trim();
    expect(mtimes).toBe("");
  });

  it("writes a manifest with the identity, counts, packages and build time", async () => {
    const r = await pack("manifest");
    const { manifest } = await readManifest(r.manifestPath);
    expect(manifest).toMatchObject({
      kind: "full",
      topDir: TOP_DIR,
      stack: "dev",
      arch: "x86_64",
      buildTime: 1_750_000_000,
      packageDatabase: "dpkg",
      members: r.manifest.members,
    });
    expect(manifest.packages?.map((p) => p.name)).toEqual(["bash", "coreutils", "libc6", "python3.11"]);
    expect(manifest.size).toBe(readFileSync(r.artifact).length);
  });

  it("is accepted by verify, with a signature that binds the manifest", async () => {
    const r = await pack("signed", { signingKey: await keyPair() });
    const ok = await verifyArtifact(r.artifact, { publicKeyPath: `${keyBase}.pub` });
    expect(ok.violations).toEqual([]);
    expect(ok.ok).toBe(true);
    expect(ok.members).toBe(r.manifest.members);
    expect(ok.signature?.fingerprint).toMatch(/^[0-9a-f]{64}$/);

    // Any change to the manifest breaks the signature.
    const text = readFileSync(r.manifestPath, "utf8").replace('"flavor": null', '"flavor": "gentoo"');
    writeFileSync(r.manifestPath, text);
    const bad = await verifyArtifact(r.artifact, { publicKeyPath: `${keyBase}.pub` });
    expect(bad.violations.map((v) => v.rule)).toEqual(["signature"]);
    // A different key is named as such.
    const other = join(work, "other");
    await generateKeyPair(other);
    const wrongKey = await verifyArtifact(r.artifact, { publicKeyPath: `${other}.pub` });
    expect(wrongKey.violations[0]?.message).toMatch(/signed by key/);
  });

  it("verifies a signature beside the manifest even without --pubkey: a stale one fails verify and publish", async () => {
    const r = await pack("signed-no-key", { signingKey: await keyPair() });
    const fresh = await verifyArtifact(r.artifact);
    expect(fresh.violations).toEqual([]);
    expect(fresh.signature).toEqual({
      publicKey: null,
      fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(fresh.warnings.join("\n")).toMatch(/who signed it was not checked \(give --pubkey\)/);

    writeFileSync(
      r.manifestPath,
      readFileSync(r.manifestPath, "utf8").replace('"flavor": null', '"flavor": "x"'),
    );
    const stale = await verifyArtifact(r.artifact);
    expect(stale.ok).toBe(false);
    expect(stale.violations.map((v) => [v.rule, v.member])).toEqual([["signature", `${r.manifestPath}.sig`]]);
    expect(stale.violations[0]?.message).toMatch(/does not match the manifest's bytes/);

    const cli = compat(["verify", r.artifact]);
    expect(cli.status, cli.stderr).toBe(3);
    expect(cli.stderr).toMatch(/\[signature\] .*\.sig: the signature does not match/);
    const repo = join(work, "stale-sig-repo");
    mkdirSync(repo);
    const pub = compat(["publish", r.artifact, "--to", `local:${repo}`]);
    expect(pub.status, pub.stderr).toBe(3);
    expect(readdirSync(repo)).toEqual([]);
  });

  it("fails a signature that names a key but does not carry it, unless that key is given", async () => {
    const r = await pack("signed-old-format", { signingKey: await keyPair() });
    const sigPath = `${r.manifestPath}.sig`;
    const { publicKey: _, ...oldFormat } = JSON.parse(readFileSync(sigPath, "utf8"));
    writeFileSync(sigPath, JSON.stringify(oldFormat));
    const noKey = await verifyArtifact(r.artifact);
    expect(noKey.violations.map((v) => v.rule)).toEqual(["signature"]);
    expect(noKey.violations[0]?.message).toMatch(
      /does not carry its public key, so without --pubkey it cannot be checked/,
    );
    const withKey = await verifyArtifact(r.artifact, { publicKeyPath: `${keyBase}.pub` });
    expect(withKey.ok).toBe(true);
    // A carried key swapped for another one is named as such.
    const other = join(work, "other-carried");
    await generateKeyPair(other);
    const { createPublicKey } = await import("node:crypto");
    const otherKey = createPublicKey(readFileSync(`${other}.pub`)).export({ type: "spki", format: "der" });
    writeFileSync(sigPath, JSON.stringify({ ...oldFormat, publicKey: otherKey.toString("base64") }));
    const swapped = await verifyArtifact(r.artifact);
    expect(swapped.violations[0]?.message).toMatch(/the public key it carries .* is not the key it names/);
  });

  it("makes a small delta after one package changes, and diff names the upgrade", async () => {
    const full = await pack("delta-base");
    writeFileSync(join(prefix, "usr/lib/libpython3.11.so"), Buffer.alloc(400_000, 7));
    unlinkSync(join(prefix, "etc/hosts.compat"));
    writeFileSync(
      join(prefix, "var/lib/dpkg/status"),
      dpkgStatus([
        ["bash", "5.2.15-2+b7"],
        ["coreutils", "9.1-1"],
        ["libc6", "2.36-9+deb12u4"],
        ["python3.11", "3.11.2-6+deb12u4"],
      ]),
    );
    const delta = await pack("delta", { deltaFrom: full.artifact, epoch: 1_750_000_100 });
    expect(delta.manifest.kind).toBe("delta");
    expect(delta.manifest.artifact).toBe("dev-2025.06-compat-linux-x86_64-1750000100.delta.tar.zst");
    expect(delta.manifest.delta).toEqual({
      base: {
        artifact: full.manifest.artifact,
        sha256: full.manifest.sha256,
        treeSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
      // The tree the delta produces: what the next delta, made from the full artifact of it, applies onto.
      treeSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      deletions: ["etc/hosts.compat"],
      // The new library has no base to patch from, and the status file is too small to gain.
      patches: [],
    });
    const members = execFileSync("tar", ["-tf", delta.artifact], { encoding: "utf8" })
      .trim()
      .split("\n")
      .sort();
    expect(members).toEqual([`${TOP_DIR}/usr/lib/libpython3.11.so`, `${TOP_DIR}/var/lib/dpkg/status`]);
    expect(delta.manifest.size).toBeLessThan(full.manifest.size * 0.02);
    expect((await verifyArtifact(delta.artifact)).ok).toBe(true);

    const d = diffLayers(await loadSide(full.artifact), await loadSide(prefix));
    expect(d.packages?.upgraded).toEqual([
      { name: "python3.11:amd64", from: "3.11.2-6+deb12u1", to: "3.11.2-6+deb12u4" },
    ]);
    expect(d.files?.added).toEqual(["usr/lib/libpython3.11.so"]);
    expect(d.files?.removed).toEqual(["etc/hosts.compat"]);
    expect(d.files?.changed).toEqual(["var/lib/dpkg/status"]);
  });

  it("keeps setuid/setgid bits and reports them, so that verify refuses them unless allow-listed", async () => {
    const p = join(work, "setuid-layer/versions", TOP_DIR);
    makeLayerTree(p, { files: 3, bigFileMiB: 0 });
    chmodSync(join(p, "usr/bin/tool"), 0o4755); // hard-linked as usr/bin/tool-hardlink
    mkdirSync(join(p, "var/shared"));
    chmodSync(join(p, "var/shared"), 0o2775); // setgid directory: inherited group, allowed
    const r = await packLayer({
      ...LAYER,
      prefix: p,
      outDir: join(work, "setuid-out"),
      epoch: 1_750_000_000,
    });
    // the hard link carries the mode too (as verify reads it from its header)
    expect(r.manifest.setuid).toEqual(["usr/bin/tool", "usr/bin/tool-hardlink"]);
    const listing = execFileSync("tar", ["-tvf", r.artifact], { encoding: "utf8" });
    expect(listing).toMatch(/^-rwsr-xr-x .*\/usr\/bin\/tool$/m);
    expect(listing).toMatch(/^drwxrwsr-x .*\/var\/shared\/$/m);
    expect((await verifyArtifact(r.artifact)).violations.map((v) => v.rule)).toEqual(["setuid", "setuid"]);
    const allowSetuid = ["usr/bin/tool", "usr/bin/tool-hardlink"];
    expect((await verifyArtifact(r.artifact, { allowSetuid })).ok).toBe(true);
  });

  it("writes names beyond ustar's fields, in UTF-8, as pax records verify accepts", async () => {
    const p = join(work, "names-layer/versions", TOP_DIR);
    makeLayerTree(p, { files: 3, bigFileMiB: 0 });
    const long = `usr/share/${"é".repeat(60)}/${"ü".repeat(60)}/${"ñ".repeat(70)}.txt`; // a basename beyond 100 bytes: tar cuts ustar fields inside a UTF-8 sequence;
    mkdirSync(dirname(join(p, long)), { recursive: true });
    writeFileSync(join(p, long), "non-ASCII path beyond 256 bytes\n");
    const r = await packLayer({ ...LAYER, prefix: p, outDir: join(work, "names-out"), epoch: 1_750_000_000 });
    expect((await verifyArtifact(r.artifact)).violations).toEqual([]);
    const names = execFileSync("tar", ["-tf", r.artifact], { encoding: "utf8" }).split("\n");
    expect(names).toContain(`${TOP_DIR}/${long}`);
  });

  it("refuses names that are not UTF-8 and sockets, before writing anything", async () => {
    const p = join(work, "bad-names/versions", TOP_DIR);
    makeLayerTree(p, { files: 3, bigFileMiB: 0 });
    writeFileSync(Buffer.concat([Buffer.from(`${p}/etc/caf`), Buffer.from([0xe9])]), "latin-1 name\n");
    const out = join(work, "bad-names-out");
    await expect(packLayer({ ...LAYER, prefix: p, outDir: out, epoch: 1 })).rejects.toThrow(
      /not valid UTF-8/,
    );
    rmSync(Buffer.concat([Buffer.from(`${p}/etc/caf`), Buffer.from([0xe9])]));
    const server = createServer().listen(join(p, "etc/socket"));
    await new Promise((resolveListen) => server.once("listening", resolveListen));
    try {
      await expect(packLayer({ ...LAYER, prefix: p, outDir: out, epoch: 1 })).rejects.toThrow(/socket/);
    } finally {
      server.close();
    }
    expect(readdirSync(out)).toEqual([]);
  });

  it("refuses device nodes and fifos before writing anything", async () => {
    const p = join(work, "fifo-layer/versions", TOP_DIR);
    makeLayerTree(p, { files: 3, bigFileMiB: 0 });
    execFileSync("mkfifo", [join(p, "etc/pipe")]);
    const out = join(work, "fifo-out");
    await expect(packLayer({ ...LAYER, prefix: p, outDir: out, epoch: 1 })).rejects.toThrow(/fifo/);
    expect(() => readFileSync(join(out, "dev-2025.06-compat-linux-x86_64-1.tar.zst"))).toThrow();
  });
});

let keyBase = "";
async function keyPair(): Promise<string> {
  keyBase = join(work, "signing");
  if (!existsSync(`${keyBase}.key`)) await generateKeyPair(keyBase);
  return `${keyBase}.key`;
}
