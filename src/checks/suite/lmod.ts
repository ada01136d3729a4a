/** EESSI's LmodTest: the prefix's Lmod initialises and `module avail` lists its core modules. */
import { exitsZero, needsShell } from "../command-check.js";
import { type Check, fail } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

/** Lmod's init script: Gentoo installs it under usr/share/Lmod, Debian under usr/share/lmod/lmod, 2020.x under usr/lmod/lmod. */
const LMOD_INIT = [
  "usr/share/Lmod/init/profile",
  "usr/share/lmod/lmod/init/profile",
  "usr/lmod/lmod/init/profile",
];
const SPIDER_HINT = 'Use "module spider" to find all possible modules and extensions.';

export const lmod: Check = {
  id: "lmod",
  title: "Lmod lists its modules",
  proves: "the prefix's Lmod initialises and `module avail` lists its core modules (lmod, settarg)",
  versions: ALL_VERSIONS,
  eessi: "LmodTest",
  skipReason: needsShell,
  async run(ctx) {
    const init = LMOD_INIT.map((p) => ctx.fs.abs(p)).find((p) => ctx.fs.exists(p));
    if (!init)
      return fail({
        read: LMOD_INIT.map((p) => ctx.fs.abs(p)),
        expected: "Lmod's init/profile in the prefix",
        found: "no Lmod init script",
      });
    const r = await ctx.shell.run(`source ${init} && module avail`);
    return exitsZero(r, `exit status 0; modules lmod and settarg listed; "${SPIDER_HINT}"`, (x) => {
      const text = `${x.stdout}\n${x.stderr}`;
      const words = new Set(text.split(/\s+/));
      const missing = ["lmod", "settarg"].filter((m) => !words.has(m));
      if (missing.length > 0) return `module avail does not list ${missing.join(" and ")}`;
      if (!text.includes(SPIDER_HINT)) return "module avail did not print its spider hint";
      return undefined;
    });
  },
};
