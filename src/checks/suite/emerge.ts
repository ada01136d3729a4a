/** EESSI's RunEmergeTest: Portage's emerge starts in the layer. */
import { commandCheck } from "../command-check.js";
import { ALL_VERSIONS } from "../versions.js";

export const emerge = commandCheck({
  id: "emerge",
  title: "emerge runs",
  command: "emerge --version",
  proves: "Portage's emerge starts in the layer",
  eessi: "RunEmergeTest",
  requires: "portage",
  versions: ALL_VERSIONS,
});
