/**
 * The one tree walker: every directory tree compat reads (a layer to pack, index, diff, relocate
 * or check) is listed here, in one deterministic order: the root first, then each directory's
 * entries in byte order of their UTF-8 names, depth first. Symlinks are never followed, so the
 * walk never leaves the tree. Synchronous on purpose: thousands of small readdir/lstat calls are
 * several times faster without the thread-pool round trip, and callers stream what they make.
 *
 * What the callers build on it: artifacts/tree.ts (members with hard links and mtimes),
 * artifacts/tar-gnu.ts (the member list for GNU tar, without lstat), checks/tree.ts (the index
 * every file check reads) and layer/relocate.ts (what to patch).
 */
import { type Dirent, lstatSync, readdirSync, type Stats } from "node:fs";
import { InputError } from "../errors.js";

export type EntryKind = "dir" | "file" | "symlink" | "block" | "char" | "fifo" | "socket" | "unknown";

export interface WalkedEntry {
  /** Path relative to the walked root, `""` for the root itself, `/`-separated. */
  rel: string;
  abs: string;
  kind: EntryKind;
  /** The entry's lstat, unless the walk was asked not to stat. */
  st?: Stats;
}

export interface WalkOptions {
  /**
   * lstat every entry (default). Without it the kind comes from the directory listing (d_type),
   * which is all GNU tar's member list needs.
   */
  stat?: boolean;
  /**
   * `utf8` (default): a name that is not UTF-8 is an InputError (artifact member names are UTF-8);
   * `lossy`: it is decoded with replacement characters, as fs.readdir does.
   */
  names?: "utf8" | "lossy";
  /** A directory that cannot be listed is reported here and skipped; without it the error is thrown. */
  onUnreadable?: (rel: string, error: unknown) => void;
}

type KindSource = Pick<
  Stats,
  "isDirectory" | "isFile" | "isSymbolicLink" | "isBlockDevice" | "isCharacterDevice" | "isFIFO" | "isSocket"
>;

export function kindOf(s: KindSource): EntryKind {
  if (s.isDirectory()) return "dir";
  if (s.isFile()) return "file";
  if (s.isSymbolicLink()) return "symlink";
  if (s.isBlockDevice()) return "block";
  if (s.isCharacterDevice()) return "char";
  if (s.isFIFO()) return "fifo";
  if (s.isSocket()) return "socket";
  return "unknown";
}

/** How people call a kind that is not a directory, file or symlink. */
export const SPECIAL_NAMES: Record<EntryKind, string> = {
  dir: "directory",
  file: "file",
  symlink: "symlink",
  block: "block device",
  char: "character device",
  fifo: "fifo",
  socket: "socket",
  unknown: "unknown file type",
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

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

interface Listing {
  abs: string;
  rel: string;
  entries: Dirent<Buffer>[];
  next: number;
}

/**
 * Walk `root` (which must be a directory) in the deterministic order. Iterative (an explicit stack
 * of directory listings): nested generators would pass every entry up through each level.
 */
export function* walk(root: string, opts: WalkOptions = {}): Generator<WalkedEntry> {
  const stat = opts.stat ?? true;
  const decode = opts.names === "lossy" ? (_dir: string, raw: Buffer) => raw.toString("utf8") : decodeName;
  const rootStat = lstatSync(root);
  if (!rootStat.isDirectory()) throw new InputError(`${root}: not a directory`);
  yield { rel: "", abs: root, kind: "dir", ...(stat ? { st: rootStat } : {}) };
  const list = (abs: string, rel: string): Listing | undefined => {
    let entries: Dirent<Buffer>[];
    try {
      entries = readdirSync(abs, { withFileTypes: true, encoding: "buffer" });
    } catch (e) {
      if (!opts.onUnreadable) throw e;
      opts.onUnreadable(rel || ".", e);
      return undefined;
    }
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    return { abs, rel, entries, next: 0 };
  };
  const stack: Listing[] = [];
  const first = list(root, "");
  if (first) stack.push(first);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next === top.entries.length) {
      stack.pop();
      continue;
    }
    const d = top.entries[top.next++]!;
    const name = decode(top.abs, d.name);
    const abs = `${top.abs}/${name}`;
    const rel = top.rel ? `${top.rel}/${name}` : name;
    const st = stat ? lstatSync(abs) : undefined;
    const kind = kindOf(st ?? d);
    yield st ? { rel, abs, kind, st } : { rel, abs, kind };
    if (kind === "dir") {
      const l = list(abs, rel);
      if (l) stack.push(l);
    }
  }
}
