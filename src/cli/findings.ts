/**
 * `compat findings [--config FILE] [--layer L] [--target T] [--arch A] [--source S] [--open|--resolved]
 *  [--severity S] [--limit N] [--json]`: the findings the watch recorded, over time: when each was
 * first and last seen, and when and by which publication it was resolved.
 */
import { type Command, Option } from "commander";
import { SEVERITIES, type Severity, severityRank } from "../security/advisory.js";
import { renderTable, style } from "../text.js";
import { archOption, jsonOption } from "./common-options.js";
import { positiveInt, printable } from "./log.js";
import { printJson } from "./output.js";

interface FindingsFlags {
  config?: string;
  layer?: string;
  target?: string;
  arch?: string;
  source?: string;
  open?: boolean;
  resolved?: boolean;
  severity?: Severity;
  limit?: number;
  json?: boolean;
}

const day = (iso: string | null) => (iso ? iso.replace("T", " ").replace(/:\d\d\.\d+Z$/, "Z") : "-");

export function register(program: Command): void {
  program
    .command("findings")
    .description(
      "list the findings compat watch recorded: first and last seen, severity, and the publication that resolved each",
    )
    .option("--config <file>", "site config (default ./compat.yaml, else ./compat-state/)")
    .option("--layer <name>", "only this layer (the site config's name)")
    .option("--target <name>", "only this target")
    .addOption(archOption("only this arch"))
    .option("--source <id>", "only this advisory source")
    .addOption(new Option("--open", "only open findings").conflicts("resolved"))
    .option("--resolved", "only resolved findings")
    .addOption(
      new Option("--severity <s>", "only findings at or above this severity").choices([...SEVERITIES]),
    )
    .option("--limit <n>", "at most N findings (default 1000)", positiveInt)
    .addOption(jsonOption("print them as JSON"))
    .action(async (flags: FindingsFlags) => {
      const { loadSiteConfig } = await import("../site/load.js");
      const { withStore } = await import("../store/open.js");
      const { listFindings } = await import("../store/findings.js");
      const site = await loadSiteConfig(flags.config);
      await withStore(site.store, async (store) => {
        const severity = flags.severity
          ? SEVERITIES.filter((s) => severityRank(s) >= severityRank(flags.severity!))
          : undefined;
        const findings = await listFindings(store, {
          ...(flags.layer ? { layer: flags.layer } : {}),
          ...(flags.target ? { target: flags.target } : {}),
          ...(flags.arch ? { arch: flags.arch } : {}),
          ...(flags.source ? { source: flags.source } : {}),
          ...(flags.open ? { open: true } : flags.resolved ? { open: false } : {}),
          ...(severity ? { severity } : {}),
          ...(flags.limit ? { limit: flags.limit } : {}),
        });
        if (flags.json) {
          printJson({ store: store.description, findings });
          return;
        }
        if (findings.length === 0) {
          process.stdout.write("no findings recorded (compat watch records them)\n");
          return;
        }
        process.stdout.write(
          `${renderTable(
            [
              "TARGET",
              "LAYER",
              "ARCH",
              "SOURCE",
              "ADVISORY",
              "SEVERITY",
              "INSTALLED",
              "FIX",
              "CVES",
              "FIRST SEEN",
              "LAST SEEN",
              "RESOLVED",
            ],
            findings.map((f) =>
              [
                f.target,
                f.layer,
                f.arch,
                f.source,
                f.advisoryId,
                f.severity,
                f.installed,
                f.fix ?? "-",
                f.cves.length > 2
                  ? `${f.cves.slice(0, 2).join(" ")} (+${f.cves.length - 2})`
                  : f.cves.join(" ") || "-",
                day(f.firstSeen),
                day(f.lastSeen),
                f.resolvedAt
                  ? `${day(f.resolvedAt)}${f.resolvedByPublicationId !== null ? ` by publication ${f.resolvedByPublicationId}` : ""}`
                  : "open",
              ].map(printable),
            ),
          )}\n${style.dim(`${findings.length} finding${findings.length === 1 ? "" : "s"}`)}\n`,
        );
      });
    });
}
