/**
 * EESSI's ToolsAvailableTest: each required tool found on the layer's PATH is the prefix's own.
 * The list is the spec's, or the flavor's defaults (flavors/<id>/check-defaults.ts).
 */
import { getFlavor } from "../../flavors/index.js";
import { needsShell } from "../command-check.js";
import { type Check, type CheckContext, fail, pass } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

export function requiredTools(ctx: CheckContext): string[] {
  const t = ctx.target;
  if (t.settings.requiredTools) return t.settings.requiredTools;
  return getFlavor(t.flavor).checkDefaults.requiredTools(t.version, t.layer);
}

export const tools: Check = {
  id: "tools",
  title: "Required tools come from the prefix",
  proves: "each required tool found on the layer's PATH is the prefix's own, not the host's",
  versions: ALL_VERSIONS,
  eessi: "ToolsAvailableTest",
  skipReason: needsShell,
  async run(ctx) {
    const list = requiredTools(ctx);
    const quoted = list.map((t) => `'${t.replaceAll("'", "")}'`).join(" ");
    const r = await ctx.shell.run(
      `for t in ${quoted}; do printf '%s\\t%s\\n' "$t" "$(command -v "$t")"; done`,
    );
    const found = new Map<string, string>();
    for (const line of r.stdout.split("\n")) {
      const tab = line.indexOf("\t");
      if (tab > 0) found.set(line.slice(0, tab), line.slice(tab + 1));
    }
    const bad: string[] = [];
    const files: string[] = [];
    const good: string[] = [];
    for (const tool of list) {
      const path = found.get(tool) ?? "";
      const real = path.startsWith("/") ? ctx.fs.resolve(path) : undefined;
      if (!path) bad.push(`${tool}: not found on the layer's PATH`);
      else if (!ctx.fs.inPrefix(path)) {
        bad.push(`${tool}: ${path} is the host's`);
        files.push(path);
      } else if (real?.ok && !ctx.fs.inPrefix(real.path)) {
        bad.push(`${tool}: ${path} leads to the host's ${real.path}`);
        files.push(path);
      } else good.push(`${tool}: ${path}`);
    }
    const evidence = { ran: [r.invocation], expected: `${list.join(", ")} under ${ctx.target.prefix}/` };
    if (bad.length === 0)
      return pass({ ...evidence, found: `all ${list.length} from the prefix`, details: good });
    return fail({
      ...evidence,
      found: `${bad.length} of ${list.length} missing or from the host`,
      files,
      details: bad,
    });
  },
};
