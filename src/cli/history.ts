/** `compat history --to TARGET [--layer L] [--json]`: what was published where, when, by whom. */
import type { Command } from "commander";
import { renderTable } from "../text.js";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";
import { addTargetOptions, publisherFromOptions, type TargetCliOptions } from "./publish.js";

export function register(program: Command): void {
  const cmd = program
    .command("history")
    .description("list the publications and rollbacks of a target: when, by whom, which sha256");
  addTargetOptions(cmd, "local:DIR or cvmfs:REPO[@HOST]")
    .option("--layer <dir>", "only this layer (<version>/compat/<os>/<arch>)")
    .addOption(jsonOption("print the events as JSON"))
    .action(async (opts: TargetCliOptions & { layer?: string; json?: boolean }) => {
      const publisher = await publisherFromOptions(opts);
      const layer = opts.layer?.replace(/^\/+|\/+$/g, "");
      const events = await publisher.history(layer);
      // No event is not "nothing published" when layers are there: say what is.
      const inventory = events.length === 0 ? await publisher.inventory?.() : undefined;
      const unrecorded = inventory ? [...inventory.layers, ...inventory.kept] : [];
      if (opts.json) {
        printJson({ target: opts.to, events, ...(inventory ? { unrecorded } : {}) });
        return;
      }
      if (events.length === 0) {
        process.stdout.write(
          unrecorded.length === 0
            ? `nothing published to ${opts.to} yet\n`
            : `compat's history of ${opts.to} has no publication, but it holds layers compat did not publish there (or whose history is gone):\n${unrecorded.map((l) => `  ${l}\n`).join("")}`,
        );
        return;
      }
      process.stdout.write(
        `${renderTable(
          ["#", "when", "who", "action", "layer", "artifact", "sha256", "tag / previous kept as"],
          events.map((e) => [
            String(e.id),
            e.at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
            `${e.user}@${e.host}`,
            e.action + (e.kind ? ` (${e.kind})` : ""),
            e.layer,
            e.artifact ?? "-",
            e.sha256 ? e.sha256.slice(0, 16) : "-",
            [e.tag, e.backup].filter(Boolean).join(", ") || "-",
          ]),
        )}\n`,
      );
    });
}
