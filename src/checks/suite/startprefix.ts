/**
 * The layer's entry point: startprefix exists, starts a shell in the prefix and reports the
 * status of the command it ran (EESSI reads that line for every check).
 */
import { outputTail } from "../shell.js";
import { type Check, fail, pass, skip } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

export const startprefix: Check = {
  id: "startprefix",
  title: "startprefix exists and runs",
  proves: "the layer's entry point starts a shell in the prefix and reports the status of the command it ran",
  versions: ALL_VERSIONS,
  async run(ctx) {
    const path = `${ctx.target.prefix}/startprefix`;
    const why = await ctx.shell.unavailable();
    if (why?.includes("startprefix"))
      return fail({ read: [path], expected: `an executable ${path}`, found: why, files: [path] });
    if (why) return skip(why);
    const ok = await ctx.shell.run("true");
    const seven = await ctx.shell.run("exit 7");
    const evidence = {
      ran: [ok.invocation, seven.invocation],
      expected: '"Leaving Prefix with exit status 0" for `true` and "… status 7" for `exit 7`',
    };
    if (ok.exitStatus === 0 && seven.exitStatus === 7)
      return pass({ ...evidence, found: "statuses 0 and 7 reported" });
    return fail({
      ...evidence,
      found: `reported ${ok.exitStatus ?? "nothing"} and ${seven.exitStatus ?? "nothing"} (process statuses ${ok.processStatus}, ${seven.processStatus})`,
      files: [path],
      output: outputTail(seven),
    });
  },
};
