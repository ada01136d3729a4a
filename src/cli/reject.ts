/** `compat reject CANDIDATE --why TEXT [--key KEY] [--json] [--config FILE]`: a signed rejection; the candidate can never be published. */
import type { Command } from "commander";
import { KEY_OPTION_TEXT, runVerdict, type VerdictCliOptions } from "./approve.js";
import { jsonOption } from "./common-options.js";
import { addConfigOption, candidateIdArg } from "./site-store.js";

export function register(program: Command): void {
  const cmd = program
    .command("reject")
    .description("reject a candidate (signed, with why): it can no longer be approved or published")
    .argument("<candidate>", "candidate id (compat status lists them)", candidateIdArg)
    .requiredOption("--why <text>", "why it is rejected (one line, recorded and signed)")
    .option("--key <file>", KEY_OPTION_TEXT)
    .addOption(jsonOption("print the rejection as JSON"));
  addConfigOption(cmd).action(async (id: number, opts: VerdictCliOptions & { why: string }) => {
    const { checkReasonText } = await import("../update/approve.js");
    await runVerdict(id, "reject", checkReasonText(opts.why, "--why"), opts);
  });
}
