/**
 * The tar stream of a layer, written by GNU tar, the same program as the peer that bench/pack
 * measures (`tar --sort=name | zstd -T0`).
 *
 * Why GNU tar and not a writer of our own: measured on a 254 MB bookworm tree of 12,810 members,
 * our Node writer (lstat, open, read and header per member, through JS) cost ~0.5 s CPU where GNU
 * tar costs ~0.06 s, and that CPU competes with zstd on a 2-core machine: packing ran at 0.56–0.66
 * of the peer's throughput. With GNU tar writing, Node only lists the tree (readdir, no lstat) and
 * reads tar's listing and the compressed bytes.
 *
 * What the stream guarantees (as the Node writer did):
 * - the same tree gives the same bytes: members in one fixed order (each directory's entries in
 *   byte order of their names, depth first; Node gives tar the list, so tar's own sort does not
 *   matter), owner root:root (0/0), mtimes clamped to the build time and whole seconds (no pax
 *   mtime, atime or ctime records), pax extended headers named `<top dir>/PaxHeaders/<name>` (no process id), the C.UTF-8
 *   locale (UTF-8 pax names, never `hdrcharset`);
 * - every member is the top dir or below it: names are `./rel` renamed to `<top dir>/rel` (hard
 *   link targets too, symlink targets never); nothing is followed out of the tree;
 * - device nodes, fifos, sockets and names that are not UTF-8 are refused before anything is
 *   written (listTree), and a member of another type in tar's listing (the tree changed) fails
 *   the pack; so does any tar warning (a file that changed or vanished while it was read);
 * - setuid/setgid bits are kept and reported (manifest `setuid`), so that verify and publish
 *   refuse them unless allow-listed.
 */
import { InputError } from "../errors.js";
import { SPECIAL_NAMES, walk } from "../paths/tree.js";

/** One member to archive: its path relative to the layer's prefix (`""` for the prefix itself). */
export interface ListedMember {
  rel: string;
  directory: boolean;
}

/**
 * The members of a tree in archive order: the root, then each directory's entries in byte order of
 * their names, depth first (paths/tree.ts's walk, here without lstat:
 * tar does that). Throws InputError for special files and names that are not UTF-8.
 */
export function listTree(root: string): ListedMember[] {
  const out: ListedMember[] = [];
  const special: string[] = [];
  for (const e of walk(root, { stat: false })) {
    if (e.kind === "dir" || e.kind === "file" || e.kind === "symlink")
      out.push({ rel: e.rel, directory: e.kind === "dir" });
    else special.push(`${root}/${e.rel}: ${SPECIAL_NAMES[e.kind]}`);
  }
  if (special.length > 0)
    throw new InputError(
      `${root}: the layer has ${special.length} device, fifo or socket node(s); an artifact cannot carry them`,
      { details: special.slice(0, 20), hint: "remove them from the layer (compat check lists them too)" },
    );
  return out;
}

/** tar's input: each member as `./rel` (the root as `.`), NUL-terminated. */
export function memberList(members: readonly ListedMember[]): Buffer {
  return Buffer.from(members.map((m) => (m.rel ? `./${m.rel}\0` : ".\0")).join(""), "utf8");
}

/**
 * The size of tar's records: the archive is padded with zeros to a multiple of it after its two
 * end-of-archive blocks (a reader that holds back the end must hold back this much more).
 */
export const RECORD_BYTES = 1 << 20;

/** tar's arguments: archive `members` (read from stdin) of the tree at `prefix` as `topDir/…` into `archive`. */
export function gnuTarArgs(prefix: string, topDir: string, epoch: number, archive: string): string[] {
  // the transform's replacement: `&` and `\` are special in it, `,` delimits it
  const replacement = topDir.replace(/[\\&,]/g, (c) => `\\${c}`);
  return [
    "--create",
    "--file",
    archive,
    "--directory",
    prefix,
    // 1 MiB records instead of 10 KiB: a hundredth of the writes into the compressor's pipe
    // (bench/pack: ~20 % less time than the peer's default on the same tree); the archive just
    // ends with more zero padding, which compresses to nothing.
    `--record-size=${RECORD_BYTES}`,
    "--format=pax",
    "--owner=root:0",
    "--group=root:0",
    `--mtime=@${epoch}`,
    "--clamp-mtime",
    // a pax header is named inside the top dir too (`%d` would be the name before the transform)
    `--pax-option=exthdr.name=${topDir.replace(/[%,]/g, "_")}/PaxHeaders/%f,delete=atime,delete=ctime,delete=mtime`,
    `--transform=s,^\\.,${replacement},rhS`,
    "--no-recursion",
    "--null",
    "--files-from=-",
    // the listing (one line per member, in order) on stdout; the size written on stderr
    "--verbose",
    "--verbose",
    "--totals",
  ];
}

/** tar's locale: UTF-8 names go into pax records as they are. */
export const GNU_TAR_ENV = { LC_ALL: "C.UTF-8" };

/** One line of `tar --create -vv`'s listing: `-rwsr-xr-x root/root 1234 2025-06-15 15:06 name`. */
export interface ListingLine {
  /** `-` file, `h` hard link, `d` directory, `l` symlink; anything else the pack refuses. */
  type: string;
  setuidOrSetgid: boolean;
  /** Only setgid, on a directory (inherited group: allowed). */
  directorySetgid: boolean;
  size: number;
}

const LISTING_RE = /^([-hdlcbpsD])[r-][w-]([xsS-])[r-][w-]([xsS-])[r-][w-][xtT-] \S+\s+(\d+)\s/;

/** The line read, or undefined when it is not a listing line. */
export function parseListingLine(line: string): ListingLine | undefined {
  const m = LISTING_RE.exec(line);
  if (!m) return undefined;
  const setuid = m[2] === "s" || m[2] === "S";
  const setgid = m[3] === "s" || m[3] === "S";
  return {
    type: m[1]!,
    setuidOrSetgid: setuid || setgid,
    directorySetgid: m[1] === "d" && setgid && !setuid,
    size: Number(m[4]),
  };
}

/** The uncompressed size from `--totals` ("Total bytes written: 260024320 (…)"). */
export function totalBytes(stderr: string): number | undefined {
  const m = /Total bytes written: (\d+)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}
