/**
 * Checks on the files of the layer, from the shared tree walk: world-writable files, setuid and
 * setgid files, device/fifo/socket nodes. Each one selects the entries at fault and describes them.
 */
import type { TreeEntry, TreeIndex } from "../tree.js";
import { type Check, capped, fail, pass } from "../types.js";

const octal = (perm: number) => perm.toString(8).padStart(4, "0");
const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** A check that fails on every tree entry `atFault` selects, one detail line each. */
function treeCheck(opts: {
  id: string;
  title: string;
  proves: string;
  expected: string;
  atFault: (e: TreeEntry) => boolean;
  describe: (e: TreeEntry) => string;
  found: (n: number) => string;
  note?: (tree: TreeIndex) => string;
}): Check {
  return {
    id: opts.id,
    title: opts.title,
    proves: opts.proves,
    flavors: ["gentoo", "debian"],
    async run(ctx) {
      const tree = await ctx.tree();
      const bad = tree.entries.filter(opts.atFault);
      const note = opts.note?.(tree) ?? "";
      const evidence = {
        read: [`${tree.entries.length} entries under ${ctx.target.prefix}`],
        expected: opts.expected,
      };
      if (bad.length === 0) return pass({ ...evidence, found: `none${note}` });
      return fail({
        ...evidence,
        found: `${opts.found(bad.length)}${note}`,
        files: bad.map((e) => ctx.fs.abs(e.rel)),
        details: capped(bad.map((e) => `${e.rel}: ${opts.describe(e)}`)),
      });
    },
  };
}

export const worldWritable = treeCheck({
  id: "world-writable",
  title: "No world-writable files or directories",
  proves: "no user of a client can change what the layer's programs read or run",
  expected: "no file or non-sticky directory writable by others (mode o+w)",
  // A sticky world-writable directory (like tmp) only lets users remove their own files.
  atFault: (e) =>
    e.kind !== "symlink" && (e.perm & 0o002) !== 0 && !(e.kind === "dir" && (e.perm & 0o1000) !== 0),
  describe: (e) => `${e.kind}, mode ${octal(e.perm)}`,
  found: (n) => plural(n, "world-writable entry", "world-writable entries"),
});

export const setuidFiles = treeCheck({
  id: "setuid",
  title: "No setuid or setgid files",
  proves:
    "no program of the layer runs with another user's or group's rights (CVMFS mounts nosuid; a set bit is a defect, not a feature)",
  expected: "no regular file with the setuid (4000) or setgid (2000) bit",
  atFault: (e) => e.kind === "file" && (e.perm & 0o6000) !== 0,
  describe: (e) =>
    `mode ${octal(e.perm)} (${[e.perm & 0o4000 ? "setuid" : "", e.perm & 0o2000 ? "setgid" : ""].filter(Boolean).join("+")})`,
  found: (n) => plural(n, "setuid/setgid file", "setuid/setgid files"),
  note: (tree) => {
    const dirs = tree.entries.filter((e) => e.kind === "dir" && (e.perm & 0o2000) !== 0).length;
    return dirs > 0 ? ` (${dirs} setgid directories, which only set the group of new files)` : "";
  },
});

const NODE_NAMES: Partial<Record<TreeEntry["kind"], string>> = {
  block: "block device",
  char: "character device",
  fifo: "fifo",
  socket: "socket",
};

export const specialFiles = treeCheck({
  id: "special-files",
  title: "No device, fifo or socket nodes",
  proves: "the layer holds only files, directories and symlinks, as CVMFS and a tarball can carry them",
  expected: "no block or character device, fifo or socket",
  atFault: (e) => NODE_NAMES[e.kind] !== undefined,
  describe: (e) => NODE_NAMES[e.kind]!,
  found: (n) => plural(n, "special node", "special nodes"),
});
