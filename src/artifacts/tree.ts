/**
 * A deterministic walk of a directory tree: the root first, then each directory's children in
 * byte order of their UTF-8 names, depth first. Packing, indexing, diffing and tree hashes all see
 * the tree in this one order. Synchronous on purpose: thousands of small lstat/readdir calls are
 * several times faster without the thread-pool round trip, and callers stream what they produce.
 */
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { InputError } from "../errors.js";

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

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** What a file that is no directory, regular file or symlink is (from its Stats or Dirent). */
export function specialKind(
  st: Pick<import("node:fs").Stats, "isFIFO" | "isSocket" | "isCharacterDevice" | "isBlockDevice">,
): string {
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  if (st.isCharacterDevice()) return "character device";
  if (st.isBlockDevice()) return "block device";
  return "unknown file type";
}

/**
 * Walk `root` (which must be a directory) in the deterministic order. Iterative (an explicit
 * stack of directory listings): nested generators would pass every entry up through each level.
 */
export function* walkTree(root: string): Generator<TreeEntry> {
  const seenInodes = new Map<string, string>();
  const rootStat = lstatSync(root);
  if (!rootStat.isDirectory()) throw new InputError(`${root}: not a directory`);
  yield {
    rel: "",
    abs: root,
    type: "directory",
    mode: rootStat.mode & 0o7777,
    size: 0,
    mtime: Math.floor(rootStat.mtimeMs / 1000),
  };
  const stack: { abs: string; rel: string; names: Buffer[]; next: number }[] = [listing(root, "")];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next === top.names.length) {
      stack.pop();
      continue;
    }
    const name = decodeName(top.abs, top.names[top.next++]!);
    const abs = `${top.abs}/${name}`;
    const rel = top.rel ? `${top.rel}/${name}` : name;
    const st = lstatSync(abs);
    const base = { rel, abs, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isDirectory()) {
      yield { ...base, type: "directory", size: 0 };
      stack.push(listing(abs, rel));
    } else if (st.isSymbolicLink()) {
      yield { ...base, type: "symlink", size: 0, linkTarget: readlinkSync(abs) };
    } else if (st.isFile()) {
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = seenInodes.get(key);
        if (first !== undefined) {
          yield { ...base, type: "hardlink", size: 0, linkTarget: first };
          continue;
        }
        seenInodes.set(key, rel);
      }
      yield { ...base, type: "file", size: st.size };
    } else {
      yield { ...base, type: "special", size: 0, special: specialKind(st) };
    }
  }
}

/** A file name of directory `dir` as UTF-8; InputError when it is not (member names are UTF-8). */
export function decodeName(dir: string, raw: Buffer): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new InputError(`${dir}/${raw.toString("latin1")}: file name is not valid UTF-8`, {
      hint: "rename the file; artifact member names are UTF-8",
    });
  }
}

function listing(abs: string, rel: string): { abs: string; rel: string; names: Buffer[]; next: number } {
  const names = readdirSync(abs, { encoding: "buffer" });
  names.sort(Buffer.compare);
  return { abs, rel, names, next: 0 };
}
