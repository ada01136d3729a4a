/**
 * One walk of the layer's tree, shared by every check that looks at files: each entry with its
 * type, mode, size, inode and (for symlinks) its link text. Directories are read in parallel; the
 * walk never follows symlinks and never leaves the prefix.
 */
import { constants } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { posix } from "node:path";

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

const WORKERS = 16;

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

/** Walk everything under `localRoot` (the prefix's directory here). */
export async function walkTree(localRoot: string): Promise<TreeIndex> {
  const started = Date.now();
  const entries: TreeEntry[] = [];
  const unreadable: string[] = [];
  const queue: string[] = [""];
  let active = 0;

  const visit = async (rel: string): Promise<void> => {
    const dir = rel === "" ? localRoot : posix.join(localRoot, rel);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      unreadable.push(rel || ".");
      return;
    }
    await Promise.all(
      names.map(async (name) => {
        const childRel = rel === "" ? name : `${rel}/${name}`;
        const full = `${dir}/${name}`;
        const st = await lstat(full);
        const kind = kindOf(st.mode);
        const entry: TreeEntry = {
          rel: childRel,
          kind,
          perm: st.mode & 0o7777,
          size: st.size,
          inode: `${st.dev}:${st.ino}`,
          nlink: st.nlink,
        };
        if (kind === "symlink") entry.link = await readlink(full, "utf8");
        entries.push(entry);
        if (kind === "dir") queue.push(childRel);
      }),
    );
  };

  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (active < WORKERS && queue.length > 0) {
        const rel = queue.pop()!;
        active++;
        visit(rel).then(
          () => {
            active--;
            if (queue.length === 0 && active === 0) resolve();
            else pump();
          },
          (e: unknown) => reject(e),
        );
      }
      if (queue.length === 0 && active === 0) resolve();
    };
    pump();
  });

  entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return {
    entries,
    byRel: new Map(entries.map((e) => [e.rel, e])),
    unreadable,
    durationMs: Date.now() - started,
  };
}
