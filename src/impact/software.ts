/**
 * The software trees an impact check looks at: where each one's files are here and the path its
 * programs see it at (their RPATHs and scripts name that path), and every ELF object in them, found
 * by content (the ELF magic), not by name. Walks without following symlinks (a link loop cannot
 * trap it); hard links are one object.
 */
import {
  closeSync,
  constants,
  type Dirent,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  statSync,
} from "node:fs";
import { isAbsolute, posix } from "node:path";
import { InputError } from "../errors.js";
import { isElfHeader } from "../layer/elf.js";

export interface SoftwareTree {
  /** Where the tree's files are on this machine (a real path). */
  local: string;
  /** The path its programs see it at (inside the sandbox); equal to `local` when it is there. */
  at: string;
}

export interface SoftwareFile {
  tree: SoftwareTree;
  /** Path relative to the tree. */
  rel: string;
  /** Other names of the same file (hard links), relative to the tree. */
  aliases: string[];
  /** The path programs see (`tree.at/rel`). */
  path: string;
  local: string;
}

export interface SoftwareScan {
  /** Regular files that start with the ELF magic, one per inode. */
  elf: SoftwareFile[];
  /** Files named like shared objects (`*.so`, `*.so.N`) that are not ELF: linker scripts, or broken. */
  notElf: string[];
  /** Directories that could not be read. */
  unreadable: string[];
  /** Entries walked. */
  entries: number;
}

const SHARED_OBJECT_NAME = /\.so(\.\d+)*$/;

/**
 * Parse `--software DIR[=PATH]`: the tree's files at DIR, seen by its programs at PATH (default:
 * DIR's real path). PATH must be absolute; it is where the sandbox shows the tree.
 */
export function parseSoftwareArg(arg: string): SoftwareTree {
  const eq = arg.lastIndexOf("=");
  if (eq < 0 || existsSync(arg)) return softwareTree(arg);
  const [dir, at] = [arg.slice(0, eq), arg.slice(eq + 1)];
  if (dir === "")
    throw new InputError(`--software ${arg}: no directory before "="`, { hint: SOFTWARE_ARG_HINT });
  if (!at.startsWith("/"))
    throw new InputError(
      `--software ${arg}: ${at === "" ? "nothing after =" : `${at} is not an absolute path`}`,
      { hint: SOFTWARE_ARG_HINT },
    );
  return softwareTree(dir, at);
}

const SOFTWARE_ARG_HINT =
  "write --software DIR or --software DIR=/cvmfs/<repository>/…: the tree's directory here, and the absolute path its programs see it at";

/** Control characters: no path a software stack is installed at has them, and reports would garble. */
const CONTROL = /\p{Cc}/u;

/** A software tree whose files are at `dir`, seen at `at` (default: where they are). */
export function softwareTree(dir: string, at?: string): SoftwareTree {
  let local: string;
  try {
    local = realpathSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      `software tree ${dir}: ${code === "ELOOP" ? "a symlink loop" : code === "EACCES" ? "permission denied" : "no such directory"}`,
      {
        hint: "give --software the directory of a software stack (e.g. …/versions/2025.06/software/linux/x86_64)",
      },
    );
  }
  if (!statSync(local).isDirectory())
    throw new InputError(`software tree ${dir}: not a directory`, {
      hint: "give --software the directory of a software stack, not a file",
    });
  if (local === "/")
    throw new InputError(`software tree ${dir}: that is the whole file system`, {
      hint: "give --software the directory of a software stack (e.g. …/versions/2025.06/software/linux/x86_64)",
    });
  const seenAt = at === undefined ? local : posix.normalize(at).replace(/\/+$/, "");
  if (!isAbsolute(seenAt) || seenAt === "/" || CONTROL.test(seenAt) || CONTROL.test(local))
    throw new InputError(
      `software tree ${dir}: ${JSON.stringify(at ?? local)} is not an absolute path of a directory (control characters, or /)`,
      { hint: SOFTWARE_ARG_HINT },
    );
  if (seenAt !== local && !seenAt.startsWith("/cvmfs/"))
    throw new InputError(
      `software tree ${dir}: it can be shown only at its own path or under /cvmfs, not at ${seenAt}`,
      {
        hint: "the sandbox has a /cvmfs of its own; other host paths are the host's",
      },
    );
  return { local, at: seenAt };
}

/**
 * Refuse trees that overlap each other, a layer's prefix or a layer's files here: the sandbox could
 * not show both, and a tree holding a layer would check the layer's own files as software.
 */
export function assertSeparate(
  trees: readonly SoftwareTree[],
  prefix: string,
  layerDirs: readonly string[] = [],
): void {
  const under = (a: string, b: string) => a === b || b === "/" || a.startsWith(`${b}/`);
  for (const [i, t] of trees.entries()) {
    for (const d of layerDirs)
      if (under(t.local, d) || under(d, t.local))
        throw new InputError(`software tree ${t.local} overlaps the layer directory ${d}`, {
          hint: "give the software stack's own directory, beside the compatibility layer, not one that holds it or is in it",
        });
    if (under(t.at, prefix) || under(prefix, t.at))
      throw new InputError(
        `software tree ${t.local} (seen at ${t.at}) overlaps the layer's prefix ${prefix}`,
        {
          hint: "give the software stack's own directory, beside the compatibility layer, not one that holds it",
        },
      );
    for (const o of trees.slice(i + 1))
      if (under(t.at, o.at) || under(o.at, t.at) || under(t.local, o.local) || under(o.local, t.local))
        throw new InputError(`software trees ${t.local} (at ${t.at}) and ${o.local} (at ${o.at}) overlap`, {
          hint: "give each tree once",
        });
  }
}

/** The identity (`dev:ino`) and link count of a regular file that starts with the ELF magic; undefined otherwise. */
function elfFile(path: string, head: Buffer): { inode: string; nlink: number } | undefined {
  let fd: number | undefined;
  try {
    // the walk saw a regular file; O_NONBLOCK in case it is a FIFO by now
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    if (readSync(fd, head, 0, 4, 0) !== 4 || !isElfHeader(head)) return undefined;
    const st = fstatSync(fd);
    return st.isFile() ? { inode: `${st.dev}:${st.ino}`, nlink: st.nlink } : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The regular files under `root` (relative paths, sorted), the number of entries and the
 * directories that could not be read. Links are not followed; only the ELF files are stat'ed later.
 */
function walkFiles(root: string): { files: string[]; entries: number; unreadable: string[] } {
  const files: string[] = [];
  const unreadable: string[] = [];
  let entries = 0;
  const stack: string[] = [""];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    let dirents: Dirent[];
    try {
      dirents = readdirSync(rel === "" ? root : `${root}/${rel}`, { withFileTypes: true });
    } catch {
      unreadable.push(rel || ".");
      continue;
    }
    for (const d of dirents) {
      entries++;
      const childRel = rel === "" ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) stack.push(childRel);
      else if (d.isFile()) files.push(childRel);
    }
  }
  files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { files, entries, unreadable };
}

/** What the walk of the trees finds, as it finds it: an ELF file (the first name of its inode), or another name of one. */
export type SoftwareEvent = { elf: SoftwareFile } | { alias: SoftwareFile; rel: string };

/**
 * Walk the trees and sniff every regular file, yielding each ELF file as it is found (each tree's
 * files in the order of their names); returns the scan's counts and the files named like libraries
 * that are not ELF (`elf` left empty).
 */
export function* walkSoftware(trees: readonly SoftwareTree[]): Generator<SoftwareEvent, SoftwareScan> {
  const scan: SoftwareScan = { elf: [], notElf: [], unreadable: [], entries: 0 };
  const head = Buffer.alloc(4);
  for (const tree of trees) {
    const walk = walkFiles(tree.local);
    scan.entries += walk.entries;
    scan.unreadable.push(...walk.unreadable.map((r) => posix.join(tree.at, r)));
    const byInode = new Map<string, SoftwareFile>();
    for (const rel of walk.files) {
      const local = `${tree.local}/${rel}`;
      const elf = elfFile(local, head);
      if (!elf) {
        if (SHARED_OBJECT_NAME.test(rel)) scan.notElf.push(posix.join(tree.at, rel));
        continue;
      }
      const first = elf.nlink > 1 ? byInode.get(elf.inode) : undefined;
      if (first) {
        first.aliases.push(rel);
        yield { alias: first, rel };
        continue;
      }
      const f: SoftwareFile = { tree, rel, aliases: [], path: posix.join(tree.at, rel), local };
      if (elf.nlink > 1) byInode.set(elf.inode, f);
      yield { elf: f };
    }
  }
  return scan;
}

/** Every ELF file of the trees (by content), and the files named like libraries that are not ELF. */
export async function scanSoftware(trees: readonly SoftwareTree[]): Promise<SoftwareScan> {
  const elf: SoftwareFile[] = [];
  const walk = walkSoftware(trees);
  let step = walk.next();
  for (; !step.done; step = walk.next()) if ("elf" in step.value) elf.push(step.value.elf);
  const scan = step.value;
  scan.elf = elf.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return scan;
}
