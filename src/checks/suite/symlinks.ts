/** No symlink of the layer dangles or leaves the layer, apart from the intended host links. */
import { posix } from "node:path";
import { isUnder } from "../layer-fs.js";
import type { TreeEntry } from "../tree.js";
import { type Check, type CheckContext, capped, fail, pass } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

/** Host file systems that exist on every running Linux system; links into them are not checked for existence. */
const RUNTIME_DIRS = ["/proc", "/dev", "/sys", "/run"];

const isVariantText = (text: string) => text.startsWith("$(");

/**
 * The intended host links by their physical place in the tree (`lib64/x` is `usr/lib64/x` when
 * lib64 links to usr/lib64): the tree walk lists entries where they physically are.
 */
function intendedLinks(ctx: CheckContext): Set<string> {
  const out = new Set<string>();
  for (const l of ctx.target.hostLinks) {
    const r = ctx.fs.resolve(ctx.fs.abs(l.path), false);
    out.add(r.ok ? ctx.fs.rel(r.path) : l.path);
  }
  return out;
}

type Followed =
  | { kind: "inside" | "host-link" | "variant" }
  | { kind: "outside"; target: string }
  | { kind: "dangling"; why: string; at: string };

/**
 * Follow a link hop by hop inside the layer. Reaching an intended host link (or a variant link)
 * ends the walk: what lies behind it is the client's, e.g. `usr/share/zoneinfo/localtime ->
 * $EPREFIX/etc/localtime`, which links to the host's /etc/localtime.
 */
function follow(ctx: CheckContext, rel: string, intended: Set<string>): Followed {
  let cur = ctx.fs.abs(rel);
  for (let hop = 0; hop < 40; hop++) {
    const text = ctx.fs.readlink(cur);
    if (isVariantText(text)) return { kind: "variant" };
    const target = text.startsWith("/") ? text : posix.join(posix.dirname(cur), text);
    // What is behind the running system's /proc, /dev, /sys, /run is the host's (dev/stderr ->
    // /proc/self/fd/2 leads to wherever the checking process's stderr goes): do not follow it.
    if (!ctx.fs.inPrefix(target) && RUNTIME_DIRS.some((d) => isUnder(target, d)))
      return { kind: "outside", target };
    const r = ctx.fs.resolve(target, false);
    if (!r.ok)
      return {
        kind: "dangling",
        at: r.missing,
        why:
          r.reason === "loop"
            ? "too many levels of symlinks"
            : r.reason === "not-a-directory"
              ? `${r.missing} is not a directory`
              : `${r.missing} does not exist`,
      };
    if (ctx.fs.inPrefix(r.path) && intended.has(ctx.fs.rel(r.path))) return { kind: "host-link" };
    if (!r.stat.isSymbolicLink()) {
      const leaves = !ctx.fs.inPrefix(r.path) && ctx.fs.region(r.path) !== "repository";
      return leaves ? { kind: "outside", target: r.path } : { kind: "inside" };
    }
    cur = r.path;
  }
  return { kind: "dangling", at: cur, why: "too many levels of symlinks" };
}

export const danglingSymlinks: Check = {
  id: "symlinks",
  title: "No dangling symlinks, no links to the host except the intended ones",
  proves:
    "every symlink of the layer leads to a file of the layer (or to the running system's /proc, /dev, /sys, /run), apart from the host links the spec asks for",
  versions: ALL_VERSIONS,
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
      const f = follow(ctx, e.rel, intended);
      const end = f.kind === "outside" ? f.target : f.kind === "dangling" ? f.at : undefined;
      // Dangling or not, a link into the running system's /proc, /dev, /sys or /run is the host's business.
      if (end && !ctx.fs.inPrefix(end) && RUNTIME_DIRS.some((d) => isUnder(end, d))) runtime++;
      else if (f.kind === "dangling") dangling.push({ e, why: f.why });
      else if (f.kind === "outside") toHost.push({ e, target: f.target });
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
