/** EESSI's RunEqueryTest: gentoolkit's equery starts in the layer. */
import { commandCheck } from "../command-check.js";
import { ALL_VERSIONS } from "../versions.js";

export const equery = commandCheck({
  id: "equery",
  title: "equery runs",
  command: "equery --version",
  proves: "gentoolkit's equery starts in the layer",
  eessi: "RunEqueryTest",
  requires: "portage",
  versions: ALL_VERSIONS,
});
