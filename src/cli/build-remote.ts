/**
 * `compat build SPEC --on EXECUTOR` (one arch, elsewhere) and `compat build SPEC --all-arches`
 * (every arch of the spec at once, each on its executor from the site config, a matrix at the end).
 */
import { InputError } from "../errors.js";
import type { Executor } from "../exec/executor.js";
import { JobInterrupted } from "../exec/job.js";
import { log } from "../log.js";
import type { SiteConfig } from "../site/load.js";
import { type ExecutorCliOptions, INTERRUPTED_EXIT, type RemoteBuildCliOptions } from "./executor-options.js";
import {
  describeExecutor,
  hostJsonLine,
  jobPlace,
  linePrinter,
  type MatrixRow,
  onOption,
  printMatrix,
  rowFromError,
} from "./executor-run.js";
import { shown } from "./output.js";

/** Stop the jobs on SIGINT/SIGTERM (a Slurm job is scancel'ed) and exit 130. */
async function interruptible<T>(
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T | undefined> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    log.warn(`${sig}: stopping ${what}`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await fn(controller.signal);
  } catch (e) {
    if (!(e instanceof JobInterrupted) && !controller.signal.aborted) throw e;
    log.error(e instanceof Error ? e.message : String(e));
    process.exitCode = INTERRUPTED_EXIT;
    return undefined;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function siteConfig(opts: ExecutorCliOptions): Promise<SiteConfig> {
  const { loadSiteConfig } = await import("../site/load.js");
  return loadSiteConfig(opts.config);
}

export async function buildRemote(specFile: string, executor: Executor, opts: RemoteBuildCliOptions) {
  const { buildOnExecutor } = await import("../pipeline/remote-build.js");
  const site = await siteConfig(opts);
  const place = jobPlace(executor, opts, undefined, site.stateDir);
  const print = linePrinter(undefined);
  await interruptible(`the build on ${describeExecutor(executor)}`, async (signal) => {
    const r = await buildOnExecutor({
      specFile,
      arch: opts.arch,
      root: opts.root,
      place,
      outDir: opts.output,
      signal,
      onLine: opts.json ? (l) => process.stdout.write(`${hostJsonLine(l)}\n`) : print,
    });
    const summary = {
      event: "collected",
      arch: r.arch,
      where: r.where,
      artifact: r.artifact.path,
      sha256: r.artifact.sha256,
      manifest: r.manifest.path,
      runRecord: r.runRecord.path,
      runRecordSha256: r.runRecord.sha256,
      durationMs: r.durationMs,
    };
    // one line, as the build's events before it
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else
      process.stdout.write(
        `built on ${r.where}\nartifact: ${shown(r.artifact.path)}\nsha256: ${r.artifact.sha256} (equal to what ${r.where} reported)\nrun record: ${shown(r.runRecord.path)}\n`,
      );
  });
}

export async function buildAllArches(specFile: string, opts: RemoteBuildCliOptions) {
  if (opts.arch) throw new InputError("--all-arches and --arch exclude each other");
  const { loadSpec } = await import("../spec/load.js");
  const { buildOnExecutor } = await import("../pipeline/remote-build.js");
  const spec = (await loadSpec(specFile)).spec;
  const site = await siteConfig(opts);
  const override = onOption(opts);
  const rows = await interruptible("every arch's build", (signal) =>
    Promise.all(
      spec.arches.map(async (arch): Promise<MatrixRow> => {
        const started = Date.now();
        const configured = site.executors[arch];
        const text = override ? describeExecutor(override) : configured?.on;
        if (!text)
          return rowFromError(
            arch,
            "-",
            new InputError(`no executor for ${arch} in ${site.file ?? "the site config (none was found)"}`, {
              hint: `add executors: { ${arch}: ssh:HOST } (or local, or slurm:…) to compat.yaml, or give --on`,
            }),
            started,
          );
        let lastError: string | undefined;
        const printer = linePrinter(`${arch} ${text}`);
        try {
          const { parseExecutor } = await import("../exec/executor.js");
          const executor = override ?? parseExecutor(text, `executors.${arch}`);
          const place = jobPlace(executor, opts, override ? undefined : configured, site.stateDir);
          const r = await buildOnExecutor({
            specFile,
            arch,
            root: opts.root,
            place,
            outDir: opts.output,
            signal,
            onLine: (line) => {
              if (/^(error|compat-job):/.test(line)) lastError = line;
              printer(line);
            },
          });
          return {
            arch,
            executor: text,
            result: "ok",
            artifact: r.artifact.path,
            sha256: r.artifact.sha256,
            durationMs: Date.now() - started,
            where: r.where,
            error: null,
            exitCode: 0,
          };
        } catch (e) {
          return rowFromError(arch, text, e, started, lastError);
        }
      }),
    ).then((done) => {
      // every job was stopped (Slurm's cancelled) before this returns
      if (signal.aborted) throw new JobInterrupted("every arch's build");
      return done;
    }),
  );
  if (!rows) return;
  printMatrix(rows, opts.json === true);
  const failed = rows.filter((r) => r.result !== "ok");
  if (failed.length) process.exitCode = Math.max(...failed.map((r) => r.exitCode));
}

/** Whether build should take the executor path, and with what. */
export function remoteBuildMode(opts: RemoteBuildCliOptions): "all" | Executor | undefined {
  if (opts.allArches) return "all";
  const e = onOption(opts);
  return e && e.kind !== "local" ? e : undefined;
}
