/** No world-writable files or non-sticky directories in the layer. */
import { octal, plural, treeCheck } from "../tree-check.js";
import { ALL_VERSIONS } from "../versions.js";

export const worldWritable = treeCheck({
  id: "world-writable",
  title: "No world-writable files or directories",
  versions: ALL_VERSIONS,
  proves: "no user of a client can change what the layer's programs read or run",
  expected: "no file or non-sticky directory writable by others (mode o+w)",
  // A sticky world-writable directory (like tmp) only lets users remove their own files.
  atFault: (e) =>
    e.kind !== "symlink" && (e.perm & 0o002) !== 0 && !(e.kind === "dir" && (e.perm & 0o1000) !== 0),
  describe: (e) => `${e.kind}, mode ${octal(e.perm)}`,
  found: (n) => plural(n, "world-writable entry", "world-writable entries"),
});
