/**
 * Small but realistic layer trees for artifact and publishing tests: nested directories, files
 * from empty to several MiB, relative and absolute (host) symlinks, hard links, names longer than
 * ustar's 100 and 256 bytes, UTF-8 names, and a dpkg status database.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { indexTree } from "../../src/artifacts/entry-index.js";

export const LAYER = { stack: "dev", version: "2025.06", os: "linux", arch: "x86_64" } as const;
export const TOP_DIR = "2025.06/compat/linux/x86_64";

function put(root: string, rel: string, content: string | Buffer, mode = 0o644): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
}

export function dpkgStatus(packages: [string, string][]): string {
  return packages
    .map(
      ([name, version]) =>
        `Package: ${name}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: ${version}\nDescription: ${name}\n`,
    )
    .join("\n");
}

export const BASE_PACKAGES: [string, string][] = [
  ["bash", "5.2.15-2+b7"],
  ["coreutils", "9.1-1"],
  ["libc6", "2.36-9+deb12u4"],
  ["python3.11", "3.11.2-6+deb12u1"],
];

/**
 * Make a layer at `root` (its prefix directory). `files` scales the number of small files;
 * `seed` makes the content differ between calls while staying deterministic per seed.
 */
export function makeLayerTree(
  root: string,
  opts: { files?: number; bigFileMiB?: number; seed?: string } = {},
): void {
  const seed = opts.seed ?? "layer";
  const bytes = (n: number, salt: string) => {
    const out = Buffer.alloc(n);
    let block = createHash("sha256").update(`${seed}:${salt}`).digest();
    for (let off = 0; off < n; off += block.length) {
      block.copy(out, off);
      block = createHash("sha256").update(block).digest();
    }
    return out;
  };
  mkdirSync(root, { recursive: true });
  put(root, "startprefix", "#!/bin/sh\nexec /bin/sh\n", 0o755);
  put(root, "usr/bin/tool", bytes(200_000, "tool"), 0o755);
  put(root, "usr/lib/libbig.so", bytes((opts.bigFileMiB ?? 3) << 20, "big"), 0o755);
  put(root, "usr/lib/libver.so.1.2.3", bytes(300_000, "ver"), 0o755);
  put(root, "etc/empty", "");
  put(root, "etc/hosts.compat", "127.0.0.1 localhost\n");
  put(root, "usr/share/doc/été/naïve-ünïcode.txt", "utf-8 names\n");
  for (let i = 0; i < (opts.files ?? 200); i++)
    put(
      root,
      `usr/share/data/d${i % 17}/file-${String(i).padStart(4, "0")}.txt`,
      bytes(100 + ((i * 37) % 9000), `f${i}`),
    );
  const longDir = `usr/share/${"deep-directory-name-".repeat(6)}/${"x".repeat(60)}`;
  put(root, `${longDir}/${"long-file-name-".repeat(5)}.txt`, "long path beyond 100 bytes\n");
  const veryLong = `usr/share/${"v".repeat(120)}/${"w".repeat(120)}/${"y".repeat(90)}.txt`;
  put(root, veryLong, "path beyond 256 bytes: needs a pax header\n");
  symlinkSync("tool", join(root, "usr/bin/tool-alias"));
  symlinkSync("/etc/passwd", join(root, "etc/passwd"));
  symlinkSync(`../share/${"t".repeat(150)}`, join(root, "usr/bin/long-target"));
  linkSync(join(root, "usr/bin/tool"), join(root, "usr/bin/tool-hardlink"));
  mkdirSync(join(root, "var/empty-dir"), { recursive: true });
  put(root, "var/lib/dpkg/status", dpkgStatus(BASE_PACKAGES));
  // Old mtimes everywhere, so clamping to a build time has something to keep.
  utimesSync(join(root, "etc/hosts.compat"), 1_600_000_000, 1_600_000_000);
}

/**
 * A digest of a tree's paths, types, modes and contents (mtimes left out, and the nested-catalog
 * markers a cvmfs publisher adds: the layers these tests make have none of their own).
 */
export function treeDigest(root: string): string {
  const h = createHash("sha256");
  for (const [rel, e] of [...indexTree(root)].sort(([a], [b]) => (a < b ? -1 : 1)))
    if (!rel.split("/").includes(".cvmfscatalog"))
      h.update(`${rel}\0${e.type}\0${e.mode.toString(8)}\0${e.digest}\n`);
  return h.digest("hex");
}

export function randomName(): string {
  return randomBytes(4).toString("hex");
}

/**
 * An upgrade's changes to a tree made by makeLayerTree: a few KiB of a large library rewritten and
 * some appended (it travels as a patch), a versioned library renamed and changed (a patch from the
 * old name), a small file rewritten and one removed (whole), one added.
 */
export function upgradeLayerTree(root: string): void {
  const big = readFileSync(join(root, "usr/lib/libbig.so"));
  randomBytes(3000).copy(big, Math.floor(big.length / 3));
  writeFileSync(join(root, "usr/lib/libbig.so"), Buffer.concat([big, randomBytes(2000)]));
  const ver = readFileSync(join(root, "usr/lib/libver.so.1.2.3"));
  ver.write("version 1.2.4", 1000);
  put(root, "usr/lib/libver.so.1.2.4", ver, 0o755);
  rmSync(join(root, "usr/lib/libver.so.1.2.3"));
  writeFileSync(join(root, "usr/bin/tool"), "#!/bin/sh\necho new tool\n");
  rmSync(join(root, "etc/hosts.compat"));
  put(root, "usr/share/new/file", "new\n");
}

export interface ArtifactPair {
  /** Full artifact of the first tree, and its tree digest. */
  artifactA: string;
  digestA: string;
  /** Full artifact of the second tree (upgradeLayerTree's changes). */
  artifactB: string;
  digestB: string;
  /** Delta from A to B. */
  deltaAB: string;
}

/** Two versions of a layer packed as full artifacts and as a delta, in `<work>/out`. */
export async function makeArtifactPair(
  work: string,
  opts: { files?: number; bigFileMiB?: number } = {},
): Promise<ArtifactPair> {
  const { packLayer } = await import("../../src/artifacts/pack.js");
  const prefix = join(work, "build/versions", TOP_DIR);
  const outDir = join(work, "out");
  makeLayerTree(prefix, { ...opts, seed: "A" });
  const digestA = treeDigest(prefix);
  const artifactA = (await packLayer({ ...LAYER, prefix, outDir, epoch: 1_750_000_000 })).artifact;
  upgradeLayerTree(prefix);
  const digestB = treeDigest(prefix);
  const artifactB = (await packLayer({ ...LAYER, prefix, outDir, epoch: 1_750_000_100 })).artifact;
  const deltaAB = (await packLayer({ ...LAYER, prefix, outDir, epoch: 1_750_000_200, deltaFrom: artifactA }))
    .artifact;
  return { artifactA, digestA, artifactB, digestB, deltaAB };
}

/**
 * A copy of the delta `artifact` in `dir` whose first patch member has bytes flipped in its middle,
 * with a manifest that tells the truth about the new archive (sha256, size), so only applying the
 * patch can find out.
 */
export function corruptPatchCopy(artifact: string, dir: string): string {
  const ex = join(dir, "extracted");
  mkdirSync(ex, { recursive: true });
  const names = execFileSync("tar", ["-tf", artifact], { encoding: "utf8" });
  execFileSync("tar", ["-x", "-p", "-C", ex, "-f", artifact]);
  const member = names.split("\n").find((n) => n.includes("/.compat-delta/0"));
  if (!member) throw new Error(`${artifact} has no patch member`);
  const patch = readFileSync(join(ex, member));
  const mid = Math.floor(patch.length / 2);
  for (let i = mid; i < mid + 16; i++) patch.writeUInt8(patch.readUInt8(i) ^ 0xff, i);
  writeFileSync(join(ex, member), patch);
  const tar = execFileSync("tar", ["--no-recursion", "-C", ex, "-c", "-f", "-", "-T", "-"], {
    input: names,
    maxBuffer: 1 << 28,
  });
  const out = join(dir, basename(artifact));
  writeFileSync(out, execFileSync("zstd", ["-q", "-c"], { input: tar, maxBuffer: 1 << 28 }));
  const manifest = JSON.parse(readFileSync(`${artifact}.manifest.json`, "utf8"));
  const data = readFileSync(out);
  manifest.sha256 = createHash("sha256").update(data).digest("hex");
  manifest.size = data.length;
  writeFileSync(`${out}.manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  return out;
}
