/** `compat gate CANDIDATE [--only IDS] [--json] [--config FILE]`: run a candidate's gates again (voids its approvals). */
import type { Command } from "commander";
import { log } from "../log.js";
import { commaList } from "./args.js";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";
import { addConfigOption, candidateIdArg, type SiteCliOptions, withSiteStore } from "./site-store.js";

export function register(program: Command): void {
  const cmd = program
    .command("gate")
    .description(
      "run a candidate's gates again (e.g. after new advisory data); voids the approvals given so far",
    )
    .argument("<candidate>", "candidate id (compat status lists them)", candidateIdArg)
    .option("--only <ids>", "run only these gates (comma-separated, repeatable)", commaList)
    .addOption(jsonOption("print the candidate and its gates as JSON"));
  addConfigOption(cmd).action(
    async (id: number, opts: SiteCliOptions & { only?: string[]; json?: boolean }) => {
      const { regateCandidate } = await import("../update/regate.js");
      await withSiteStore(opts, async (site, store) => {
        const r = await regateCandidate(site, store, id, {
          only: opts.only,
          onStart: (g) => log.info(`gate ${g.id}: ${g.title}`),
          onNote: (g, m) => log.info(`${g.id}: ${m}`),
          onEnd: (g, res) => log.info(`gate ${g.id}: ${res.state}`),
        });
        // The exit code is the verdict, for people and machines alike.
        if (r.candidate.state !== "ready") process.exitCode = 3;
        if (opts.json) {
          printJson(r);
          return;
        }
        const render = await import("./candidate-render.js");
        process.stdout.write(
          `${[render.renderCandidateHead(r.candidate), ...render.renderGates(r.gates), ""].join("\n")}`,
        );
      });
    },
  );
}
