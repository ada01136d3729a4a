/**
 * EESSI's ToolsAvailableTest: each required tool found on the layer's PATH is the prefix's own.
 * The list depends on the flavor and, for Gentoo, on the layer version (declared per tool).
 */
import { FLAVORS } from "../../spec/schema.js";
import { needsShell } from "../command-check.js";
import { type Check, type CheckContext, fail, pass } from "../types.js";
import { ALL_VERSIONS, type Versions, versionApplies } from "../versions.js";

/** Tools EESSI requires from a Gentoo layer (ToolsAvailableTest), each with the versions it is required on. */
export const GENTOO_TOOLS: readonly { tool: string; versions: Versions }[] = [
  { tool: "archspec", versions: ALL_VERSIONS },
  { tool: "emerge", versions: ALL_VERSIONS },
  { tool: "equery", versions: ALL_VERSIONS },
  { tool: "ld.bfd", versions: ALL_VERSIONS },
  { tool: "make", versions: ALL_VERSIONS },
  { tool: "patch", versions: ALL_VERSIONS },
  // binutils' gold linker: built (USE=gold) only in 2023.06.
  { tool: "ld.gold", versions: { only: ["2023.06"] } },
  { tool: "patchelf", versions: { except: ["2021.03"] } },
];

/** The tools a Gentoo layer of `version` must have. */
export function gentooTools(version: string | undefined): string[] {
  return GENTOO_TOOLS.filter((t) => versionApplies(t.versions, version)).map((t) => t.tool);
}

/** Tools of a Debian layer: the essential ones, plus those of the spec's packages. */
export function debianTools(packages: readonly string[] | undefined): string[] {
  const byPackage: Record<string, string> = {
    make: "make",
    patch: "patch",
    python3: "python3",
    "xz-utils": "xz",
    file: "file",
    patchelf: "patchelf",
  };
  const tools = ["bash", "tar", "perl"];
  for (const p of packages ?? []) if (Object.hasOwn(byPackage, p)) tools.push(byPackage[p]!);
  return [...new Set(tools)];
}

export function requiredTools(ctx: CheckContext): string[] {
  const t = ctx.target;
  if (t.settings.requiredTools) return t.settings.requiredTools;
  return t.flavor === "gentoo" ? gentooTools(t.version) : debianTools(t.layer?.spec.debian?.packages);
}

export const tools: Check = {
  id: "tools",
  title: "Required tools come from the prefix",
  proves: "each required tool found on the layer's PATH is the prefix's own, not the host's",
  flavors: FLAVORS,
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
