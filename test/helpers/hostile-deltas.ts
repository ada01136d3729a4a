/**
 * Deltas that pass `compat verify` but would reach outside the layer through symlinks the published
 * base layer already has (a security review's findings): a base layer with `abs -> <outside>`
 * packed by compat, and deltas crafted with GNU tar whose manifests tell the truth about them.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { DeltaPatch } from "../../src/artifacts/manifest.js";
import { LAYER, TOP_DIR } from "./layer-tree.js";

const OLD = Buffer.from("old content of a file the base has\n".repeat(20));
const NEW = Buffer.from("#!/bin/sh\necho replaced through a symlink\n");
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export interface HostileSet {
  /** The directory the base layer's symlink `abs` points to (with a file `victim`). */
  outside: string;
  base: string;
  /** Member `abs/evil`, where the base has `abs -> outside`. */
  throughMember: string;
  /** A patch whose `path` is `abs` (the base symlink to a directory), from the deleted `old.txt`. */
  patchOntoSymlink: string;
  /** Deletes `abs/victim`. */
  deleteThrough: string;
  /** A fair delta: deletes the symlink `abs` and ships a directory `abs/` with a file in it. */
  symlinkBecomesDir: string;
  /** A fair delta that adds `new.txt` (refused only when the layer itself is a symlink). */
  harmless: string;
  /** A full artifact whose top dir is a symlink to `outside`. */
  topDirSymlink: string;
}

/** Names, types, sizes and mtimes of a directory that no publish may touch. */
export function snapshot(dir: string): string {
  return execFileSync("find", [dir, "-printf", "%P %y %s %T@\\n"], { encoding: "utf8" })
    .split("\n")
    .sort()
    .join("\n");
}

/** Pack the base layer (symlink `abs -> <work>/outside`) and craft the deltas, in `<work>/hostile`. */
export async function makeHostileSet(work: string): Promise<HostileSet> {
  const { packLayer } = await import("../../src/artifacts/pack.js");
  const outside = join(work, "outside");
  mkdirSync(outside);
  writeFileSync(join(outside, "victim"), "must stay\n");
  const dir = join(work, "hostile");
  const prefix = join(dir, "build/versions", TOP_DIR);
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, "old.txt"), OLD);
  writeFileSync(join(prefix, "keep.txt"), "keep\n");
  symlinkSync(outside, join(prefix, "abs"));
  const outDir = join(dir, "out");
  const base = (await packLayer({ ...LAYER, prefix, outDir, epoch: 1_750_000_000 })).artifact;

  const patchSrc = join(dir, "patch-src");
  mkdirSync(patchSrc, { recursive: true });
  writeFileSync(join(patchSrc, "old"), OLD);
  writeFileSync(join(patchSrc, "new"), NEW);
  execFileSync("zstd", ["-q", "-f", `--patch-from=${join(patchSrc, "old")}`, join(patchSrc, "new")]);
  const patch = readFileSync(join(patchSrc, "new.zst"));
  const patchEntry: DeltaPatch = {
    path: "abs",
    from: "old.txt",
    member: ".compat-delta/000001",
    method: "zstd-patch-from",
    baseSha256: sha(OLD),
    baseSize: OLD.length,
    sha256: sha(NEW),
    size: NEW.length,
    mode: 0o755,
    mtime: 1_750_000_000,
  };

  let epoch = 1_750_000_100;
  const delta = (
    files: Record<string, string | Buffer | null>,
    deletions: string[],
    patches: DeltaPatch[] = [],
  ) => craftDelta(join(dir, `d${epoch}`), base, epoch++, files, deletions, patches);
  return {
    outside,
    base,
    throughMember: delta({ "abs/evil": "PWNED\n" }, []),
    patchOntoSymlink: delta(
      { ".compat-delta/": null, ".compat-delta/000001": patch },
      ["old.txt"],
      [patchEntry],
    ),
    deleteThrough: delta({}, ["abs/victim"]),
    symlinkBecomesDir: delta({ "abs/": null, "abs/inside": "inside\n" }, ["abs"]),
    harmless: delta({ "new.txt": "new\n" }, []),
    topDirSymlink: topDirSymlink(join(dir, "top-symlink"), base, outside),
  };
}

function topDirSymlink(dir: string, base: string, outside: string): string {
  const tree = join(dir, "tree");
  mkdirSync(dirname(join(tree, TOP_DIR)), { recursive: true });
  symlinkSync(outside, join(tree, TOP_DIR));
  return writeArtifact(dir, base, 1_750_000_500, tree, [TOP_DIR], {});
}

/**
 * A delta of `base` with the given members (relative to the top dir; a name ending in `/` is a
 * directory, null content), written by GNU tar, compressed by zstd, with a truthful manifest.
 */
function craftDelta(
  dir: string,
  base: string,
  epoch: number,
  files: Record<string, string | Buffer | null>,
  deletions: string[],
  patches: DeltaPatch[],
): string {
  const tree = join(dir, "tree");
  mkdirSync(join(tree, TOP_DIR), { recursive: true });
  const names = [`${TOP_DIR}/`];
  for (const [rel, content] of Object.entries(files)) {
    const p = join(tree, TOP_DIR, rel);
    if (content === null) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
    }
    names.push(`${TOP_DIR}/${rel}`);
  }
  return writeArtifact(dir, base, epoch, tree, names, files, { deletions, patches });
}

/** Tar `names` from `tree` with GNU tar, compress with zstd, and write a manifest that tells the truth. */
function writeArtifact(
  dir: string,
  base: string,
  epoch: number,
  tree: string,
  names: string[],
  files: Record<string, string | Buffer | null>,
  delta?: { deletions: string[]; patches: DeltaPatch[] },
): string {
  const tar = execFileSync(
    "tar",
    ["--no-recursion", "--owner=0", "--group=0", `--mtime=@${epoch}`, "-C", tree, "-c", "-f", "-", "-T", "-"],
    { input: names.join("\n") },
  );
  const name = `${LAYER.stack}-${LAYER.version}-compat-${LAYER.os}-${LAYER.arch}-${epoch}${delta ? ".delta" : ""}.tar.zst`;
  const out = join(dir, name);
  writeFileSync(out, execFileSync("zstd", ["-q", "-c"], { input: tar }));
  const data = readFileSync(out);
  const manifest = JSON.parse(readFileSync(`${base}.manifest.json`, "utf8"));
  const fileCount = Object.values(files).filter((c) => c !== null).length;
  Object.assign(manifest, {
    artifact: name,
    kind: delta ? "delta" : "full",
    sha256: sha(data),
    size: data.length,
    members: names.length,
    files: fileCount,
    contentBytes: Object.values(files).reduce((n, c) => n + (c === null ? 0 : Buffer.byteLength(c)), 0),
    buildTime: epoch,
    setuid: [],
    delta: delta && { base: { artifact: basename(base), sha256: sha(readFileSync(base)) }, ...delta },
  });
  writeFileSync(`${out}.manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  return out;
}
