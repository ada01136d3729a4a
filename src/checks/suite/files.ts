/**
 * Checks on the files of the layer, from the shared tree walk: world-writable files, setuid and
 * setgid files, device/fifo/socket nodes.
 */
import { type Check, capped, fail, pass } from "../types.js";

const octal = (perm: number) => perm.toString(8).padStart(4, "0");

export const worldWritable: Check = {
  id: "world-writable",
  title: "No world-writable files or directories",
  proves: "no user of a client can change what the layer's programs read or run",
  flavors: ["gentoo", "debian"],
  async run(ctx) {
    const tree = await ctx.tree();
    // A sticky world-writable directory (like tmp) only lets users remove their own files.
    const bad = tree.entries.filter(
      (e) => e.kind !== "symlink" && (e.perm & 0o002) !== 0 && !(e.kind === "dir" && (e.perm & 0o1000) !== 0),
    );
    const evidence = {
      read: [`${tree.entries.length} entries under ${ctx.target.prefix}`],
      expected: "no file or non-sticky directory writable by others (mode o+w)",
    };
    if (bad.length === 0) return pass({ ...evidence, found: "none" });
    return fail({
      ...evidence,
      found: `${bad.length} world-writable entr${bad.length === 1 ? "y" : "ies"}`,
      files: bad.map((e) => ctx.fs.abs(e.rel)),
      details: capped(bad.map((e) => `${e.rel}: ${e.kind}, mode ${octal(e.perm)}`)),
    });
  },
};

export const setuidFiles: Check = {
  id: "setuid",
  title: "No setuid or setgid files",
  proves:
    "no program of the layer runs with another user's or group's rights (CVMFS mounts nosuid; a set bit is a defect, not a feature)",
  flavors: ["gentoo", "debian"],
  async run(ctx) {
    const tree = await ctx.tree();
    const bad = tree.entries.filter((e) => e.kind === "file" && (e.perm & 0o6000) !== 0);
    const setgidDirs = tree.entries.filter((e) => e.kind === "dir" && (e.perm & 0o2000) !== 0).length;
    const evidence = {
      read: [`${tree.entries.length} entries under ${ctx.target.prefix}`],
      expected: "no regular file with the setuid (4000) or setgid (2000) bit",
    };
    const note =
      setgidDirs > 0 ? ` (${setgidDirs} setgid directories, which only set the group of new files)` : "";
    if (bad.length === 0) return pass({ ...evidence, found: `none${note}` });
    return fail({
      ...evidence,
      found: `${bad.length} setuid/setgid file${bad.length === 1 ? "" : "s"}${note}`,
      files: bad.map((e) => ctx.fs.abs(e.rel)),
      details: capped(
        bad.map(
          (e) =>
            `${e.rel}: mode ${octal(e.perm)} (${[
              e.perm & 0o4000 ? "setuid" : "",
              e.perm & 0o2000 ? "setgid" : "",
            ]
              .filter(Boolean)
              .join("+")})`,
        ),
      ),
    });
  },
};

export const specialFiles: Check = {
  id: "special-files",
  title: "No device, fifo or socket nodes",
  proves: "the layer holds only files, directories and symlinks, as CVMFS and a tarball can carry them",
  flavors: ["gentoo", "debian"],
  async run(ctx) {
    const tree = await ctx.tree();
    const bad = tree.entries.filter(
      (e) => e.kind === "block" || e.kind === "char" || e.kind === "fifo" || e.kind === "socket",
    );
    const evidence = {
      read: [`${tree.entries.length} entries under ${ctx.target.prefix}`],
      expected: "no block or character device, fifo or socket",
    };
    if (bad.length === 0) return pass({ ...evidence, found: "none" });
    return fail({
      ...evidence,
      found: `${bad.length} special node${bad.length === 1 ? "" : "s"}`,
      files: bad.map((e) => ctx.fs.abs(e.rel)),
      details: capped(
        bad.map(
          (e) =>
            `${e.rel}: ${e.kind === "char" ? "character device" : e.kind === "block" ? "block device" : e.kind}`,
        ),
      ),
    });
  },
};
