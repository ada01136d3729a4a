/** EESSI's ArchspecTest: archspec runs and names the CPU (not on ppc64le, as EESSI). */
import { flavorHas } from "../../flavors/index.js";
import { commandCheck } from "../command-check.js";
import { ALL_VERSIONS } from "../versions.js";

export const archspec = commandCheck({
  id: "archspec",
  title: "archspec detects the CPU",
  command: "archspec cpu",
  proves: "archspec (used by the stack's init to pick a CPU target) runs and names this CPU",
  eessi: "ArchspecTest",
  versions: ALL_VERSIONS,
  skipOn: (ctx) => {
    if (ctx.target.arch === "ppc64le") return "EESSI does not run archspec on ppc64le";
    if (
      !flavorHas(ctx.target.flavor, "portage") &&
      !["usr/bin/archspec", "bin/archspec"].some((p) => ctx.fs.exists(ctx.fs.abs(p)))
    )
      return "archspec is not installed in this debian layer";
    return undefined;
  },
});
