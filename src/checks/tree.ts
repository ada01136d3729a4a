/**
 * One walk of the layer's tree, shared by every check that looks at files: each entry with its
 * type, mode, size, inode and (for symlinks) its link text. The walk never follows symlinks and
 * never leaves the prefix.
 */
import { constants, lstatSync, readdirSync, readlinkSync } from "node:fs";

export type EntryKind = "file" | "dir" | "symlink" | "block" | "char" | "fifo" | "socket";

export interface TreeEntry {
  /** Path relative to the prefix, e.g. `usr/bin/bash`. */
  rel: string;
  kind: EntryKind;
  /** Permission bits including setuid/setgid/sticky (st_mode & 0o7777). */
  perm: number;
  size: number;
  /** `dev:ino`, to recognise hard links. */
  inode: string;
  nlink: number;
  /** Link text, for symlinks. */
  link?: string;
}

export interface TreeIndex {
  entries: TreeEntry[];
  byRel: Map<string, TreeEntry>;
  /** Directories that could not be read (permissions), relative to the prefix. */
  unreadable: string[];
  durationMs: number;
}

function kindOf(mode: number): EntryKind {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFDIR:
      return "dir";
    case constants.S_IFLNK:
      return "symlink";
    case constants.S_IFBLK:
      return "block";
    case constants.S_IFCHR:
      return "char";
    case constants.S_IFIFO:
      return "fifo";
    case constants.S_IFSOCK:
      return "socket";
    default:
      return "file";
  }
}

/**
 * Walk everything under `localRoot` (the prefix's directory here). Synchronous on purpose: one
 * lstat per entry costs microseconds, while the thread pool's round trips cost more than the calls.
 */
export async function walkTree(localRoot: string): Promise<TreeIndex> {
  const started = Date.now();
  const entries: TreeEntry[] = [];
  const unreadable: string[] = [];
  const stack: string[] = [""];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const dir = rel === "" ? localRoot : `${localRoot}/${rel}`;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      unreadable.push(rel || ".");
      continue;
    }
    for (const name of names) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const full = `${dir}/${name}`;
      const st = lstatSync(full);
      const kind = kindOf(st.mode);
      const entry: TreeEntry = {
        rel: childRel,
        kind,
        perm: st.mode & 0o7777,
        size: st.size,
        inode: `${st.dev}:${st.ino}`,
        nlink: st.nlink,
      };
      if (kind === "symlink") entry.link = readlinkSync(full, "utf8");
      entries.push(entry);
      if (kind === "dir") stack.push(childRel);
    }
  }
  entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return {
    entries,
    byRel: new Map(entries.map((e) => [e.rel, e])),
    unreadable,
    durationMs: Date.now() - started,
  };
}
