/**
 * Symlinks of the layer: none dangles or leaves the layer except the intended host links, and
 * every CVMFS variant symlink is well formed.
 */
import { posix } from "node:path";
import { parseVariant } from "../../spec/resolve.js";
import { isUnder } from "../layer-fs.js";
import type { TreeEntry } from "../tree.js";
import { type Check, type CheckContext, capped, fail, pass, skip } from "../types.js";

/** Host file systems that exist on every running Linux system; links into them are not checked for existence. */
const RUNTIME_DIRS = ["/proc", "/dev", "/sys", "/run"];

const isVariantText = (text: string) => text.startsWith("$(");

function intendedLinks(ctx: CheckContext): Set<string> {
  return new Set(ctx.target.hostLinks.map((l) => l.path));
}

export const danglingSymlinks: Check = {
  id: "symlinks",
  title: "No dangling symlinks, no links to the host except the intended ones",
  proves:
    "every symlink of the layer leads to a file of the layer (or to the running system's /proc, /dev, /sys, /run), apart from the host links the spec asks for",
  flavors: ["gentoo", "debian"],
  async run(ctx) {
    const tree = await ctx.tree();
    const intended = intendedLinks(ctx);
    const links = tree.entries.filter((e) => e.kind === "symlink");
    const dangling: { e: TreeEntry; why: string }[] = [];
    const toHost: { e: TreeEntry; target: string }[] = [];
    let runtime = 0;
    let hostLinks = 0;
    let variants = 0;
    for (const e of links) {
      if (intended.has(e.rel)) {
        hostLinks++;
        continue;
      }
      if (isVariantText(e.link!)) {
        variants++;
        continue;
      }
      const path = ctx.fs.abs(e.rel);
      const r = ctx.fs.resolve(path);
      const final = r.ok ? r.path : r.missing;
      const leaves = !ctx.fs.inPrefix(final) && ctx.fs.region(final) !== "repository";
      if (leaves && RUNTIME_DIRS.some((d) => isUnder(final, d))) {
        runtime++;
        continue;
      }
      if (!r.ok) {
        const why =
          r.reason === "loop"
            ? "too many levels of symlinks"
            : r.reason === "not-a-directory"
              ? `${r.missing} is not a directory`
              : `${r.missing} does not exist`;
        dangling.push({ e, why });
      } else if (leaves) toHost.push({ e, target: r.path });
    }
    const evidence = {
      read: [`${links.length} symlinks under ${ctx.target.prefix}`],
      expected:
        "every symlink resolves inside the layer, or is an intended host link, a variant symlink, or a link into /proc, /dev, /sys or /run",
    };
    const counts = `${links.length} symlinks (${hostLinks} intended host links, ${variants} variant links, ${runtime} into the running system)`;
    if (dangling.length === 0 && toHost.length === 0)
      return pass({ ...evidence, found: `all resolve: ${counts}` });
    const found = [
      dangling.length > 0 ? `${dangling.length} dangling` : "",
      toHost.length > 0 ? `${toHost.length} leading to the host` : "",
    ]
      .filter(Boolean)
      .join(", ");
    return fail({
      ...evidence,
      found: `${found} of ${counts}`,
      files: [...dangling.map((d) => ctx.fs.abs(d.e.rel)), ...toHost.map((d) => ctx.fs.abs(d.e.rel))],
      details: capped([
        ...dangling.map((d) => `${d.e.rel} -> ${d.e.link}: dangling (${d.why})`),
        ...toHost.map((d) => `${d.e.rel} -> ${d.e.link}: leads out of the layer to ${d.target}`),
      ]),
    });
  },
};

export const variantSymlinks: Check = {
  id: "variant-symlinks",
  title: "CVMFS variant symlinks are well formed",
  proves:
    "every `$(VAR:-default)` link parses as CVMFS expects, names a variable of this stack and version, and falls back to an absolute path",
  flavors: ["gentoo", "debian"],
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
