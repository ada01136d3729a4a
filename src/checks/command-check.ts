/**
 * What the checks that run a command in the layer through startprefix share: the skip when
 * commands cannot run here, the verdict "the command exits 0" with the evidence of the run, and
 * the check that is only that (EESSI's RunEmergeTest, RunEqueryTest, ArchspecTest).
 */
import { outputTail, type ShellResult } from "./shell.js";
import { type Check, type CheckContext, type CheckOutcome, fail, pass } from "./types.js";

/** Skip reason shared by every check that needs to run commands in the layer. */
export const needsShell = (ctx: CheckContext) => ctx.shell.unavailable();

/** The verdict for "the command exits 0" (and optionally more), with the evidence of the run. */
export function exitsZero(
  r: ShellResult,
  expected: string,
  extra?: (r: ShellResult) => string | undefined,
): CheckOutcome {
  const evidence = { ran: [r.invocation], expected };
  if (r.exitStatus === undefined)
    return fail({
      ...evidence,
      found: `startprefix printed no "Leaving … Prefix with exit status N" line (its own status ${r.processStatus})`,
      output: outputTail(r),
    });
  if (r.exitStatus !== 0)
    return fail({ ...evidence, found: `exit status ${r.exitStatus}`, output: outputTail(r) });
  const problem = extra?.(r);
  if (problem) return fail({ ...evidence, found: problem, output: outputTail(r) });
  return pass({ ...evidence, found: "exit status 0", output: outputTail(r, 5) });
}

/** A check that a command from the layer exits 0. */
export function commandCheck(
  opts: Pick<Check, "id" | "title" | "proves" | "eessi" | "requires" | "versions"> & {
    command: string;
    skipOn?: (ctx: CheckContext) => string | undefined;
  },
): Check {
  return {
    id: opts.id,
    title: opts.title,
    proves: opts.proves,
    requires: opts.requires,
    versions: opts.versions,
    eessi: opts.eessi,
    async skipReason(ctx) {
      return opts.skipOn?.(ctx) ?? (await ctx.shell.unavailable());
    },
    async run(ctx) {
      const r = await ctx.shell.run(opts.command);
      return exitsZero(r, `\`${opts.command}\` exits 0`);
    },
  };
}
