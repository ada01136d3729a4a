/** No device, fifo or socket nodes in the layer. */
import type { TreeEntry } from "../tree.js";
import { plural, treeCheck } from "../tree-check.js";
import { ALL_VERSIONS } from "../versions.js";

const NODE_NAMES: Partial<Record<TreeEntry["kind"], string>> = {
  block: "block device",
  char: "character device",
  fifo: "fifo",
  socket: "socket",
};

export const specialFiles = treeCheck({
  id: "special-files",
  title: "No device, fifo or socket nodes",
  versions: ALL_VERSIONS,
  proves: "the layer holds only files, directories and symlinks, as CVMFS and a tarball can carry them",
  expected: "no block or character device, fifo or socket",
  atFault: (e) => NODE_NAMES[e.kind] !== undefined,
  describe: (e) => NODE_NAMES[e.kind]!,
  found: (n) => plural(n, "special node", "special nodes"),
});
