/** EESSI's PipCheckTest: `pip check` with the layer's own pip finds no broken requirement. */
import { flavorHas } from "../../flavors/index.js";
import { exitsZero, needsShell } from "../command-check.js";
import { outputTail } from "../shell.js";
import { type Check, fail, skip } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

export const pipCheck: Check = {
  id: "pip-check",
  title: "Python packages have their requirements",
  proves: "`pip check` finds no broken requirement among the layer's Python packages",
  versions: ALL_VERSIONS,
  eessi: "PipCheckTest",
  skipReason: needsShell,
  async run(ctx) {
    const probe = await ctx.shell.run("command -v pip3; command -v pip; python3 -m pip --version");
    const lines = probe.stdout.split("\n").map((l) => l.trim());
    // Only the layer's own pip counts: the layer's PATH may end with the host's directories.
    const pip = lines.find((l) => l.startsWith("/") && ctx.fs.inPrefix(l));
    const moduleOk = lines.some((l) => l.startsWith("pip ") && l.includes(ctx.target.prefix));
    if (!pip && !moduleOk) {
      if (!flavorHas(ctx.target.flavor, "portage")) return skip("pip is not installed in this debian layer");
      return fail({
        ran: [probe.invocation],
        expected: `pip under ${ctx.target.prefix} (dev-python/pip is in every EESSI set)`,
        found: "no pip in the layer",
        output: outputTail(probe),
      });
    }
    const r = await ctx.shell.run(pip ? `${pip} check` : "python3 -m pip check");
    return exitsZero(r, '"No broken requirements found."', (x) =>
      x.stdout.split("\n").includes("No broken requirements found.")
        ? undefined
        : "pip check reported problems",
    );
  },
};
