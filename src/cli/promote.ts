/**
 * `compat promote CANDIDATE --to TARGET [--json] [--config FILE]`: publish exactly the approved
 * artifact of a candidate to a target of the site config (its delta when the target holds the
 * delta's base, else the full artifact), after checking the target's policy again.
 */
import type { Command } from "commander";
import { log } from "../log.js";
import { style } from "../text.js";
import { INTERRUPTED_EXIT } from "./build.js";
import { jsonOption } from "./common-options.js";
import { printJson, shown } from "./output.js";
import { addConfigOption, candidateIdArg, type SiteCliOptions, withSiteStore } from "./site-store.js";

export function register(program: Command): void {
  const cmd = program
    .command("promote")
    .description(
      "publish a candidate's approved artifact to a target of the site config, its approvals checked again right before",
    )
    .argument("<candidate>", "candidate id (compat status lists them)", candidateIdArg)
    .requiredOption("--to <target>", "a target of the site config (targets: in compat.yaml)")
    .addOption(jsonOption());
  addConfigOption(cmd).action(async (id: number, opts: SiteCliOptions & { to: string; json?: boolean }) => {
    const { promoteCandidate } = await import("../update/promote.js");
    const { PublishInterrupted } = await import("../publish/publisher.js");
    const controller = new AbortController();
    const onSignal = (sig: NodeJS.Signals) => {
      log.warn(`${sig}: stopping the publish`);
      controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      await withSiteStore(opts, async (site, store) => {
        const r = await promoteCandidate(site, store, id, opts.to, { signal: controller.signal });
        if (opts.json) {
          printJson(r);
          return;
        }
        const p = r.result;
        process.stdout.write(
          [
            p.method === "unchanged"
              ? `${style.green("already published")}: ${opts.to} holds candidate ${id}'s artifact; nothing changed`
              : `${style.green("promoted")} candidate ${id} to ${r.target} (${r.artifact.kind}${r.artifact.kind === "delta" ? ", onto the layer it holds" : ""})`,
            `  artifact  ${shown(r.artifact.path)}`,
            `  sha256    ${r.artifact.sha256}`,
            `  layer     ${p.path}`,
            ...(p.backup ? [`  previous kept as ${p.backup}`] : []),
            ...(r.verdict
              ? [
                  `  approvals ${r.verdict.counted.map((c) => c.approver).join(", ") || "none needed"} (${r.target} needs ${r.verdict.needed})`,
                ]
              : []),
            `  candidate ${r.candidate?.state ?? "-"}`,
            "",
          ].join("\n"),
        );
      });
    } catch (e) {
      if (!(e instanceof PublishInterrupted)) throw e;
      log.error(`promote of candidate ${id}: ${e.message}`);
      process.exitCode = INTERRUPTED_EXIT;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  });
}
