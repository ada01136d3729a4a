/**
 * `compat build SPEC --check-reproducible [--against ARTIFACT] [--json]`: the verdict of two builds
 * (pipeline/reproducible.ts). For people: one line per copy's stage on stderr while they build,
 * then a short verdict and the differing files; `--json`: the copies' build events (each with its
 * `copy`) and a last `reproducible` event with the verdict. Exit 3 when the artifacts differ.
 */
import { EXIT_CODES } from "../errors.js";
import { type Executor, formatExecutor } from "../exec/executor.js";
import { log } from "../log.js";
import type { BuildEvent } from "../pipeline/progress.js";
import type { CopyBuilder, CopyName, ReproducibleVerdict } from "../pipeline/reproducible.js";
import { style } from "../text.js";
import type { ExecutorCliOptions } from "./executor-options.js";
import { jobPlace } from "./executor-run.js";
import { shown } from "./output.js";

/** At most this many differing paths in the text verdict; --json and verdict.json have all. */
const LISTED = 50;

export function renderVerdict(v: ReproducibleVerdict): string {
  const [a, b] = v.copies as [ReproducibleVerdict["copies"][0], ReproducibleVerdict["copies"][0]];
  const name = (c: typeof a) => c.artifact.split("/").pop();
  const out: string[] = [];
  if (v.reproducible) {
    out.push(
      `${style.green("reproducible")}: ${a.runDir ? "both builds give" : `the build gives the bytes of ${shown(a.artifact)}:`} sha256 ${a.sha256} (${name(b)})`,
    );
    return `${out.join("\n")}\n`;
  }
  out.push(
    `${style.red("not reproducible")}: ${v.differing.length} path${v.differing.length === 1 ? "" : "s"} differ`,
    `  A ${a.sha256}  ${shown(a.artifact)}`,
    `  B ${b.sha256}  ${shown(b.artifact)}`,
  );
  if (a.sourceDateEpoch !== b.sourceDateEpoch)
    out.push(
      `  the builds had different SOURCE_DATE_EPOCHs (${a.sourceDateEpoch} and ${b.sourceDateEpoch}): the mirror changed between them, or the environment differed`,
    );
  const p = v.packages;
  if (p) {
    const changes = [
      ...p.added.map((x) => `+ ${x.name} ${x.version}`),
      ...p.removed.map((x) => `- ${x.name} ${x.version}`),
      ...[...p.upgraded, ...p.downgraded].map((x) => `~ ${x.name} ${x.from} → ${x.to}`),
    ];
    if (changes.length > 0)
      out.push(
        "  packages differ (the builds saw different archive states):",
        ...changes.map((c) => `    ${c}`),
      );
  }
  for (const d of v.differing.slice(0, LISTED)) out.push(`  ${d.path}  (${d.differs.join(", ")})`);
  if (v.differing.length > LISTED)
    out.push(`  … ${v.differing.length - LISTED} more in ${shown(v.workDir)}/verdict.json`);
  out.push(
    style.dim(
      `the artifacts are kept in ${shown(v.workDir)}: compat diff A B --files, or diffoscope A B for the bytes`,
    ),
  );
  return `${out.join("\n")}\n`;
}

/** The options of `compat build` that --check-reproducible takes. */
export interface CheckReproducibleOptions extends ExecutorCliOptions {
  arch?: string;
  runsDir?: string;
  against?: string;
  json?: boolean;
  /** Build copy B on this executor (`--on`), copy A here. */
  elsewhere?: Executor;
}

export async function checkReproducibleCommand(
  specFile: string,
  opts: CheckReproducibleOptions,
): Promise<void> {
  const { checkReproducible, canBuildConcurrently, copyOnExecutor } = await import(
    "../pipeline/reproducible.js"
  );
  let buildCopyB: CopyBuilder | undefined;
  if (opts.elsewhere) {
    const { loadSiteConfig } = await import("../site/load.js");
    const site = await loadSiteConfig(opts.config);
    buildCopyB = copyOnExecutor(jobPlace(opts.elsewhere, opts, undefined, site.stateDir));
  }
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    log.warn(`${sig}: stopping the builds`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const onEvent = (copy: CopyName, e: BuildEvent) => {
    if (opts.json) print({ copy, ...e });
    else if (e.event === "stage-start") log.info(`[${copy}] ${e.stage} (${e.index}/${e.total})`);
    else if (e.event === "stage-failed") log.error(`[${copy}] ${e.stage} failed: ${e.error}`);
  };
  if (!opts.json)
    log.info(
      opts.against
        ? `building ${specFile} once${opts.elsewhere ? ` on ${formatExecutor(opts.elsewhere)}` : ""} to compare with ${opts.against}`
        : opts.elsewhere
          ? `building ${specFile} twice, at once: A here, B on ${formatExecutor(opts.elsewhere)}`
          : `building ${specFile} twice, ${canBuildConcurrently() ? "both at once" : "one after the other (fewer than 4 cores or 4 GiB free)"}`,
    );
  try {
    const v = await checkReproducible({
      specFile,
      arch: opts.arch,
      runsDir: opts.runsDir ?? "runs",
      ...(opts.against ? { against: opts.against } : {}),
      ...(buildCopyB ? { buildCopyB } : {}),
      signal: controller.signal,
      onEvent,
    });
    if (opts.json) print({ event: "reproducible", time: new Date().toISOString(), ...v });
    else process.stdout.write(renderVerdict(v));
    if (!v.reproducible) process.exitCode = EXIT_CODES.check;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
