/**
 * One walk of the layer's tree, shared by every check that looks at files: each entry with its
 * type, mode, size, inode and (for symlinks) its link text. The walk (src/paths/tree.ts) never
 * follows symlinks and never leaves the prefix.
 */
import { readlinkSync } from "node:fs";
import { type EntryKind as WalkedKind, walk } from "../paths/tree.js";

export type EntryKind = Exclude<WalkedKind, "unknown">;

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

/**
 * Walk everything under `localRoot` (the prefix's directory here) with paths/tree.ts's walker; a
 * directory that cannot be read is listed, not fatal.
 */
export async function walkTree(localRoot: string): Promise<TreeIndex> {
  const started = Date.now();
  const entries: TreeEntry[] = [];
  const unreadable: string[] = [];
  for (const e of walk(localRoot, { names: "lossy", onUnreadable: (rel) => unreadable.push(rel) })) {
    if (e.rel === "") continue;
    const st = e.st!;
    const entry: TreeEntry = {
      rel: e.rel,
      kind: e.kind === "unknown" ? "file" : e.kind,
      perm: st.mode & 0o7777,
      size: st.size,
      inode: `${st.dev}:${st.ino}`,
      nlink: st.nlink,
    };
    if (e.kind === "symlink") entry.link = readlinkSync(e.abs, "utf8");
    entries.push(entry);
  }
  entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return {
    entries,
    byRel: new Map(entries.map((e) => [e.rel, e])),
    unreadable,
    durationMs: Date.now() - started,
  };
}
