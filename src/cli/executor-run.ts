import { CompatError, InputError } from "../errors.js";
import { type Executor, formatExecutor, parseExecutor } from "../exec/executor.js";
import { type JobPlace, jobPlaceOf } from "../exec/job.js";
import { log } from "../log.js";
import type { SiteExecutor } from "../site/load.js";
import { renderTable, style, withoutControls } from "../text.js";
import type { ExecutorCliOptions } from "./executor-options.js";
import { printJson, shown } from "./output.js";

/** Where the job runs: `--on` (with its companions), else the site config's executor of the arch. */
export function jobPlace(
  executor: Executor,
  opts: ExecutorCliOptions,
  site: SiteExecutor | undefined,
  stateDir: string,
): JobPlace {
  return jobPlaceOf(
    executor,
    {
      compat: opts.remoteCompat ?? site?.compat,
      compatField: opts.remoteCompat ? "--remote-compat" : "executors: compat",
      workDir: opts.workDir ?? site?.workDir,
      sshConfig: opts.sshConfig ?? site?.sshConfig,
    },
    stateDir,
  );
}

/** `--on`, parsed; undefined when absent. */
export function onOption(opts: ExecutorCliOptions): Executor | undefined {
  if (opts.on === undefined) {
    if (opts.remoteCompat || opts.workDir || opts.sshConfig)
      throw new InputError("--remote-compat, --work-dir and --ssh-config go with --on");
    return undefined;
  }
  return parseExecutor(opts.on, "--on");
}

const seconds = (ms: unknown) => `${(Number(ms) / 1000).toFixed(0)} s`;

/** A line of a job's output for people: build events in words, anything else as it came. */
export function progressLine(line: string): string {
  if (!line.startsWith("{")) return line;
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const stage = `${String(e.stage)} (${String(e.index)}/${String(e.total)})`;
  switch (e.event) {
    case "build-start":
      return `build ${String(e.runId)}: ${String(e.flavor)} ${String(e.arch)} → ${String(e.target)}`;
    case "stage-start":
      return `  ${stage} ${String(e.description)}`;
    case "stage-note":
      return `    ${String(e.message)}`;
    case "stage-skip":
      return `  ${stage} skipped: ${String(e.reason)}`;
    case "stage-end":
      return `  ${stage} done in ${seconds(e.durationMs)}`;
    case "stage-failed":
      return [
        `  ${stage} FAILED: ${String(e.error)}`,
        ...(Array.isArray(e.logTail) ? e.logTail.map((l) => `    ${String(l)}`) : []),
      ].join("\n");
    case "build-end":
      return `build ${String(e.status)} in ${seconds(e.durationMs)}`;
    default:
      return line;
  }
}

export interface MatrixRow {
  arch: string;
  executor: string;
  result: "ok" | "failed" | "refused";
  artifact: string | null;
  sha256: string | null;
  durationMs: number;
  where: string | null;
  error: string | null;
  exitCode: number;
}

export function rowFromError(
  arch: string,
  executor: string,
  e: unknown,
  started: number,
  lastError?: string,
): MatrixRow {
  const message =
    e instanceof CompatError
      ? `${e.message}${e.hint ? ` (${e.hint})` : ""}`
      : String((e as Error).message ?? e);
  return {
    arch,
    executor,
    result: e instanceof InputError ? "refused" : "failed",
    artifact: null,
    sha256: null,
    durationMs: Date.now() - started,
    where: null,
    error: lastError ? `${message}: ${lastError}` : message,
    exitCode: e instanceof CompatError ? e.exitCode : 4,
  };
}

export function printMatrix(rows: MatrixRow[], json: boolean): void {
  if (json) {
    printJson({ rows });
    return;
  }
  const lines = [
    renderTable(
      ["arch", "executor", "result", "artifact sha256", "time"],
      rows.map((r) => [
        r.arch,
        r.executor,
        r.result === "ok" ? style.green("ok") : style.red(r.result),
        r.sha256 ?? "-",
        seconds(r.durationMs),
      ]),
    ),
  ];
  for (const r of rows) {
    if (r.artifact) lines.push(`${r.arch}: ${shown(r.artifact)}`);
    if (r.error) lines.push(`${r.arch}: ${r.error}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

export function describeExecutor(e: Executor): string {
  return formatExecutor(e);
}

/** A build host's output is shown, never obeyed: control characters (terminal escapes) become `?`. */
export function printable(line: string): string {
  return withoutControls(line, () => "?", "\t");
}

/** Prefix a job's lines with its arch and executor on stderr (several jobs run at once). */
export function linePrinter(prefix: string | undefined): (line: string) => void {
  return (line: string) => {
    // after the JSON is decoded: its \u001b escapes are control characters too
    for (const l of progressLine(line).split("\n").map(printable))
      if (prefix) log.info(`[${prefix}] ${l}`);
      else process.stderr.write(`${l}\n`);
  };
}

const HOST_EVENTS = new Set([
  "build-start",
  "stage-start",
  "stage-note",
  "stage-skip",
  "stage-end",
  "stage-failed",
  "build-end",
]);

/**
 * A build host's line for the --json stream: a build progress event, re-serialised, or else the line
 * wrapped as `{"event": "remote-output", "line"}`. A host never speaks as compat here (no `collected`).
 */
export function hostJsonLine(line: string): string {
  try {
    const e = JSON.parse(line) as unknown;
    if (
      e &&
      typeof e === "object" &&
      !Array.isArray(e) &&
      HOST_EVENTS.has((e as { event?: string }).event ?? "")
    )
      return JSON.stringify(e);
  } catch {
    // not JSON: wrapped below
  }
  return JSON.stringify({ event: "remote-output", line });
}
