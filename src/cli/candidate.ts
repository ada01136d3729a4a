/**
 * `compat candidate CANDIDATE [--json] [--config FILE]`: one candidate in full — its state, the
 * update it came from, package diff, artifacts, gate reports, approvals and what they allow.
 */
import type { Command } from "commander";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";
import { addConfigOption, candidateIdArg, type SiteCliOptions, withSiteStore } from "./site-store.js";

export function register(program: Command): void {
  const cmd = program
    .command("candidate")
    .description(
      "show a candidate: package diff, artifacts, gate reports, approvals and which targets they allow",
    )
    .argument("<candidate>", "candidate id (compat status lists them)", candidateIdArg)
    .addOption(jsonOption("print everything, the gates' full reports included, as JSON"));
  addConfigOption(cmd).action(async (id: number, opts: SiteCliOptions & { json?: boolean }) => {
    const { describeCandidate } = await import("../update/describe.js");
    await withSiteStore(opts, async (site, store) => {
      const d = await describeCandidate(site, store, id);
      if (opts.json) {
        printJson(d);
        return;
      }
      const render = await import("./candidate-render.js");
      const { printable } = await import("./log.js");
      const c = d.candidate;
      process.stdout.write(
        [
          render.renderCandidateHead(c),
          `  requested ${printable(c.requestedBy)} at ${c.createdAt}${c.reason ? `: ${printable(c.reason)}` : ""}`,
          ...(d.update?.packages ? [`  for       ${d.update.packages.join(", ")}`] : []),
          ...render.renderPackageDiff(d.packageDiff),
          ...render.renderArtifacts(d.full, d.delta),
          ...render.renderGates(d.gates),
          ...render.renderApprovals(d.approvals, d.targets),
          "",
        ].join("\n"),
      );
    });
  });
}
