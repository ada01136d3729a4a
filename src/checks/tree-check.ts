/**
 * What the checks on the files of the layer share: a check that fails on every entry of the shared
 * tree walk it selects, one detail line each.
 */
import type { TreeEntry, TreeIndex } from "./tree.js";
import { type Check, capped, fail, pass } from "./types.js";
import type { Versions } from "./versions.js";

export const octal = (perm: number) => perm.toString(8).padStart(4, "0");
export const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** A check that fails on every tree entry `atFault` selects, one detail line each. */
export function treeCheck(opts: {
  id: string;
  title: string;
  proves: string;
  expected: string;
  atFault: (e: TreeEntry) => boolean;
  describe: (e: TreeEntry) => string;
  found: (n: number) => string;
  note?: (tree: TreeIndex) => string;
  versions: Versions;
}): Check {
  return {
    id: opts.id,
    title: opts.title,
    proves: opts.proves,
    versions: opts.versions,
    async run(ctx) {
      const tree = await ctx.tree();
      const bad = tree.entries.filter(opts.atFault);
      const note = opts.note?.(tree) ?? "";
      const evidence = {
        read: [`${tree.entries.length} entries under ${ctx.target.prefix}`],
        expected: opts.expected,
      };
      if (bad.length === 0) return pass({ ...evidence, found: `none${note}` });
      return fail({
        ...evidence,
        found: `${opts.found(bad.length)}${note}`,
        files: bad.map((e) => ctx.fs.abs(e.rel)),
        details: capped(bad.map((e) => `${e.rel}: ${opts.describe(e)}`)),
      });
    },
  };
}
