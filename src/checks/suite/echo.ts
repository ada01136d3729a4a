/** EESSI's EchoTest: a command runs in the prefix through startprefix. */
import { exitsZero, needsShell } from "../command-check.js";
import type { Check } from "../types.js";
import { ALL_VERSIONS } from "../versions.js";

export const echo: Check = {
  id: "echo",
  title: "A command runs in the prefix",
  proves: "`echo hello` through startprefix prints hello and exits 0",
  versions: ALL_VERSIONS,
  eessi: "EchoTest",
  skipReason: needsShell,
  async run(ctx) {
    const r = await ctx.shell.run("echo hello");
    return exitsZero(r, 'exit status 0 and a line "hello"', (x) =>
      x.stdout.split("\n").includes("hello") ? undefined : "no line hello in the output",
    );
  },
};
