/** No setuid or setgid files in the layer (CVMFS mounts nosuid). */
import { octal, plural, treeCheck } from "../tree-check.js";
import { ALL_VERSIONS } from "../versions.js";

export const setuidFiles = treeCheck({
  id: "setuid",
  title: "No setuid or setgid files",
  versions: ALL_VERSIONS,
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
