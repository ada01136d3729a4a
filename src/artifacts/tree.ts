/**
 * A layer's tree as artifact members, in the one walk order (src/paths/tree.ts): packing,
 * indexing, diffing and tree hashes all see the tree in this order.
 */
import { readlinkSync } from "node:fs";
import { SPECIAL_NAMES, walk } from "../paths/tree.js";

export type TreeEntryType = "directory" | "file" | "hardlink" | "symlink" | "special";

export interface TreeEntry {
  /** Path relative to the walked root, `""` for the root itself, `/`-separated. */
  rel: string;
  abs: string;
  type: TreeEntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  /** Bytes of content for files, 0 otherwise. */
  size: number;
  /** Whole seconds. */
  mtime: number;
  /** Symlink target, or for a hard link the `rel` of the first path of the same inode. */
  linkTarget?: string;
  /** For `special`: what it is (fifo, socket, character device, block device). */
  special?: string;
}

/**
 * Walk `root` (which must be a directory) in paths/tree.ts's order, as artifact members: a file
 * whose inode was seen before is a hard link to the first path that had it.
 */
export function* walkTree(root: string): Generator<TreeEntry> {
  const seenInodes = new Map<string, string>();
  for (const { rel, abs, kind, st } of walk(root)) {
    const base = { rel, abs, mode: st!.mode & 0o7777, mtime: Math.floor(st!.mtimeMs / 1000) };
    if (kind === "dir") yield { ...base, type: "directory", size: 0 };
    else if (kind === "symlink") yield { ...base, type: "symlink", size: 0, linkTarget: readlinkSync(abs) };
    else if (kind === "file") {
      if (st!.nlink > 1) {
        const key = `${st!.dev}:${st!.ino}`;
        const first = seenInodes.get(key);
        if (first !== undefined) {
          yield { ...base, type: "hardlink", size: 0, linkTarget: first };
          continue;
        }
        seenInodes.set(key, rel);
      }
      yield { ...base, type: "file", size: st!.size };
    } else yield { ...base, type: "special", size: 0, special: SPECIAL_NAMES[kind] };
  }
}
