/** EESSI's EessiSetTest: `emerge --list-sets` in the layer lists every set the layer is built from. */
import { outputTail } from "../shell.js";
import { SETS_NOT_KNOWN } from "../target.js";
import { type Check, fail, pass, skip } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

export const setDefined: Check = {
  id: "set-defined",
  title: "The package sets are defined",
  proves: "`emerge --list-sets` in the layer lists every set the layer is built from",
  requires: "portage",
  versions: ALL_VERSIONS,
  eessi: "EessiSetTest",
  async skipReason(ctx) {
    if (ctx.target.sets.length === 0)
      return ctx.target.layer ? "the spec installs no package set" : SETS_NOT_KNOWN;
    return ctx.shell.unavailable();
  },
  async run(ctx) {
    const from = ctx.target.setsFrom ? ` (${ctx.target.setsFrom})` : "";
    const expected = `${ctx.target.sets.join(", ")} listed${from}`;
    const probe = await ctx.shell.run("command -v emerge");
    if (probe.exitStatus !== 0)
      return skip("emerge is not in the layer (the emerge check reports it)", {
        ran: [probe.invocation],
        expected,
      });
    const r = await ctx.shell.run("emerge --list-sets");
    const listed = new Set(r.stdout.split("\n").map((l) => l.trim()));
    const missing = ctx.target.sets.filter((s) => !listed.has(s));
    const evidence = { ran: [r.invocation], expected };
    if (r.exitStatus !== 0)
      return fail({ ...evidence, found: `exit status ${r.exitStatus}`, output: outputTail(r) });
    if (missing.length === 0) return pass({ ...evidence, found: `${ctx.target.sets.length} set(s) listed` });
    return fail({
      ...evidence,
      found: `not listed: ${missing.join(", ")}`,
      files: missing.map((s) => ctx.fs.abs(`etc/portage/sets/${s}`)),
      output: outputTail(r),
    });
  },
};
