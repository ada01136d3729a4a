/**
 * `compat watch [--config FILE] [--once] [--json] [--fail-on S]`: audits every published layer of
 * every target in the site config with every advisory source its flavor has, records findings
 * over time, notifies the channels; `--once` for cron and CI, otherwise on the site config's
 * schedule until stopped (SIGINT/SIGTERM end it between runs or after the current one).
 */
import { type Command, Option } from "commander";
import { log } from "../log.js";
import { SEVERITIES, type Severity, severityRank } from "../security/advisory.js";
import { renderTable, style } from "../text.js";
import type { WatchReport } from "../watch/run.js";
import { jsonOption } from "./common-options.js";
import { printable } from "./log.js";
import { printJson } from "./output.js";

interface WatchFlags {
  config?: string;
  once?: boolean;
  json?: boolean;
  failOn?: Severity;
}

function renderReport(r: WatchReport): string {
  const rows = r.layers.map((l) => [
    l.target,
    l.layer,
    l.arch,
    l.kind === "error" ? style.red("error") : l.kind,
    String(l.installedPackages),
    l.sources.map((s) => (s.status === "ok" ? s.id : `${s.id}:${s.status.toUpperCase()}`)).join(" ") || "-",
    String(l.opened.length),
    String(l.open),
    String(l.resolved),
    l.error ?? (l.kind === "absent" ? l.location : ""),
  ]);
  const lines = [
    style.bold(`compat watch ${r.startedAt} → ${r.endedAt}`),
    renderTable(
      ["TARGET", "LAYER", "ARCH", "READ", "PACKAGES", "SOURCES", "NEW", "OPEN", "RESOLVED", "NOTE"],
      rows,
    ),
    "",
  ];
  for (const l of r.layers)
    for (const f of l.opened)
      lines.push(
        // advisory text on a terminal: control characters shown escaped
        printable(
          `  new ${f.severity.padEnd(8)} ${l.target}/${l.layer}/${l.arch}  ${f.source} ${f.id}  ${f.installed}${f.fix ? ` → ${f.fix}` : ""}  ${f.cves.join(" ")}`,
        ),
      );
  for (const p of r.proposals) {
    const built =
      p.error !== undefined
        ? `; compat update could not build it: ${p.error}`
        : p.candidate === undefined
          ? ""
          : p.candidate === null
            ? "; compat update: nothing to update"
            : `; compat update made candidate ${p.candidate} (${p.state})`;
    lines.push(
      printable(`  proposed update of ${p.target}/${p.layer}/${p.arch}: ${p.packages.join(" ")}${built}`),
    );
  }
  const n = r.notifications;
  lines.push(
    `notifications: ${n.queued} queued, ${n.delivered} delivered${n.failed.length ? style.yellow(`, ${n.failed.length} not delivered (tried again next run)`) : ""}`,
  );
  return `${lines.join("\n")}\n`;
}

export function register(program: Command): void {
  program
    .command("watch")
    .description(
      "audit every published layer with every advisory source of its flavor, on the site config's schedule (or --once); record findings over time and notify",
    )
    .option("--config <file>", "site config (default ./compat.yaml, else ./compat-state/)")
    .option("--once", "one run, then exit (for cron and CI)")
    .addOption(jsonOption("print each run's report as JSON"))
    .addOption(
      new Option(
        "--fail-on <severity>",
        "with --once: exit 1 when an open finding has at least this severity",
      ).choices([...SEVERITIES]),
    )
    .action(async (flags: WatchFlags) => {
      const { loadSiteConfig } = await import("../site/load.js");
      const { openStore, storeFailure } = await import("../store/open.js");
      const { watchOnce } = await import("../watch/run.js");
      const { updateStarter } = await import("../update/watch-starter.js");
      const site = await loadSiteConfig(flags.config);
      const store = await openStore(site.store);
      const runOnce = async () => {
        const report = await watchOnce(site, store, {
          // policy build: compat update for what the watch proposes (src/update/watch-starter.ts)
          startUpdate: site.watch.autoUpdate.policy === "build" ? updateStarter(site, store) : undefined,
        });
        if (flags.json) printJson(report);
        else process.stdout.write(renderReport(report));
        return report;
      };
      try {
        if (flags.once) {
          const report = await runOnce();
          const nothing = nothingChecked(report);
          if (nothing) {
            log.error(nothing);
            process.exitCode = 3;
          }
          if (flags.failOn) {
            const { listFindings } = await import("../store/findings.js");
            const open = await listFindings(store, { open: true, limit: 100_000 });
            if (open.some((f) => severityRank(f.severity as Severity) >= severityRank(flags.failOn!)))
              process.exitCode = 1;
          }
          return;
        }
        // each scheduled run that checked nothing says so (the process keeps going: the data may come back)
        await runScheduled(site.watch.schedule, site.watch.timezone, async () => {
          const nothing = nothingChecked(await runOnce());
          if (nothing) log.error(`${nothing}; this run is not a clean run`);
        });
      } catch (e) {
        throw storeFailure(store, e);
      } finally {
        await store.close().catch(() => {});
      }
    });
}

/** A run in which no layer had a source with data checked nothing: not a clean run. Why, or undefined. */
export function nothingChecked(report: WatchReport): string | undefined {
  if (report.layers.some((l) => l.sources.some((s) => s.status === "ok" || s.status === "stale")))
    return undefined;
  return report.layers.length === 0
    ? "nothing was checked: the site config names no published layer"
    : "nothing was checked: no published layer could be read with a source that has data (see the report)";
}

/** Run on the cron schedule until SIGINT or SIGTERM; a failed run is logged and the next one comes. */
async function runScheduled(schedule: string, timezone: string, run: () => Promise<unknown>): Promise<void> {
  const { Cron } = await import("croner");
  await new Promise<void>((resolve) => {
    let running: Promise<unknown> | undefined;
    const job = new Cron(schedule, { timezone, protect: true }, async () => {
      running = run().catch((e: unknown) => {
        log.error(
          `watch run failed: ${e instanceof Error ? e.message : String(e)}; the next run is at ${job.nextRun()?.toISOString()}`,
        );
      });
      await running;
      log.info(`next run at ${job.nextRun()?.toISOString()}`);
    });
    log.info(
      `compat watch: schedule "${schedule}" (${timezone}), next run at ${job.nextRun()?.toISOString()}; stop with Ctrl-C`,
    );
    const stop = async () => {
      job.stop();
      await running;
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
