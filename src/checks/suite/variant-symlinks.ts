/** Every CVMFS variant symlink `$(VAR:-default)` of the layer is well formed. */
import { posix } from "node:path";
import { parseVariant } from "../../spec/resolve.js";
import { type Check, capped, fail, pass, skip } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

export const variantSymlinks: Check = {
  id: "variant-symlinks",
  title: "CVMFS variant symlinks are well formed",
  proves:
    "every `$(VAR:-default)` link parses as CVMFS expects, names a variable of this stack and version, and falls back to an absolute path",
  versions: ALL_VERSIONS,
  async run(ctx) {
    const tree = await ctx.tree();
    const links = tree.entries.filter((e) => e.kind === "symlink" && e.link!.includes("$("));
    if (links.length === 0) return skip("the layer has no variant symlinks");
    const prefix = ctx.target.layer?.variablePrefix;
    const bad: string[] = [];
    const files: string[] = [];
    for (const e of links) {
      const text = e.link!;
      const v = parseVariant(text);
      let why: string | undefined;
      if (!v) why = "not of the form $(VARIABLE:-/default/path)";
      else if (!posix.isAbsolute(v.fallback)) why = `the default ${v.fallback} is not an absolute path`;
      else if (prefix && !v.variable.startsWith(`${prefix}_`))
        why = `the variable ${v.variable} does not start with ${prefix}_`;
      if (why) {
        bad.push(`${e.rel} -> ${text}: ${why}`);
        files.push(ctx.fs.abs(e.rel));
      }
    }
    const evidence = {
      read: [`${links.length} variant symlinks under ${ctx.target.prefix}`],
      expected: `$(${prefix ?? "<STACK>_<VERSION>"}_…:-/absolute/default)`,
    };
    if (bad.length === 0) return pass({ ...evidence, found: `${links.length} well-formed variant symlinks` });
    return fail({
      ...evidence,
      found: `${bad.length} malformed of ${links.length}`,
      files,
      details: capped(bad),
    });
  },
};
