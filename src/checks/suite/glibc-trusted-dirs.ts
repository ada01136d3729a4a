/**
 * EESSI's GlibcTrustedDirs, fixed: the glibc trusted dirs as the loader reports them (`ld.so --help`
 * "(system search path)" lines), compared as a list, consecutive and in order. The reference
 * iterated the setting as a string, so one dir (2023.06's) became one pattern per character
 * (reference/compat-layer.md §7).
 */
import { parseLdSoHelp } from "../loader.js";
import { TRUSTED_DIRS_ENV_PATH, trustedDirsFromExtraEmake } from "../portage-files.js";
import { outputTail } from "../shell.js";
import { type Check, type CheckContext, fail, pass } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

/** Where `dirs` appear as one consecutive run, in order, in `searchPath`; a description of the mismatch otherwise. */
export function findConsecutive(
  searchPath: readonly string[],
  dirs: readonly string[],
): { at: number } | { problem: string } {
  if (dirs.length === 0) return { problem: "no trusted dirs to look for" };
  const start = searchPath.indexOf(dirs[0]!);
  if (start < 0) return { problem: `${dirs[0]} is not in the system search path` };
  for (let i = 1; i < dirs.length; i++) {
    const at = searchPath[start + i];
    if (at !== dirs[i])
      return {
        problem: searchPath.includes(dirs[i]!)
          ? `${dirs[i]} is in the system search path but not right after ${dirs[i - 1]}`
          : `${dirs[i]} is not in the system search path`,
      };
  }
  return { at: start };
}

/** The trusted dirs the layer must have: the spec's, or (bare prefix) what its env file says. */
export function expectedTrustedDirs(ctx: CheckContext): { dirs: string[]; from: string } | undefined {
  if (ctx.target.trustedDirs !== undefined)
    return ctx.target.trustedDirs.length > 0 ? { dirs: ctx.target.trustedDirs, from: "the spec" } : undefined;
  const text = ctx.fs.readText(ctx.fs.abs(TRUSTED_DIRS_ENV_PATH));
  const dirs = text === undefined ? undefined : trustedDirsFromExtraEmake(text);
  return dirs && dirs.length > 0 ? { dirs, from: ctx.fs.abs(TRUSTED_DIRS_ENV_PATH) } : undefined;
}

export const glibcTrustedDirs: Check = {
  id: "glibc-trusted-dirs",
  title: "glibc searches the trusted dirs, in order",
  proves:
    "`ld.so --help` in the layer lists the user-defined trusted dirs as consecutive system search path entries, in the spec's order (where GPU drivers and site overrides are injected)",
  requires: "glibc-trusted-dirs",
  versions: ALL_VERSIONS,
  eessi: "GlibcTrustedDirs",
  async skipReason(ctx) {
    if (!expectedTrustedDirs(ctx)) return "the layer has no glibc trusted dirs";
    return ctx.shell.unavailable();
  },
  async run(ctx) {
    const want = expectedTrustedDirs(ctx)!;
    const r = await ctx.shell.run("ld.so --help");
    const { systemDirs } = parseLdSoHelp(r.stdout);
    const evidence = {
      ran: [r.invocation],
      expected: `"(system search path)" lines ${want.dirs.join(", ")} consecutively, in this order (from ${want.from})`,
    };
    if (r.exitStatus !== 0 || systemDirs.length === 0)
      return fail({
        ...evidence,
        found: `ld.so --help exited ${r.exitStatus ?? "?"} with no search path`,
        output: outputTail(r),
      });
    const m = findConsecutive(systemDirs, want.dirs);
    if ("at" in m) return pass({ ...evidence, found: `system search path: ${systemDirs.join(", ")}` });
    return fail({
      ...evidence,
      found: m.problem,
      details: [`system search path: ${systemDirs.join(", ")}`],
      files: [ctx.fs.abs("usr/bin/ld.so")],
    });
  },
};
