/**
 * `compat check SPEC --on ssh:HOST|slurm…`: the check suite run where the layer was built (the
 * build host's root), its JSON report brought back with its sha256 checked; the verdict here is
 * the same as a local check's (exit 3 when a check failed or none ran to a verdict).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValidationError } from "../errors.js";
import type { Executor } from "../exec/executor.js";
import type { ExecutorCliOptions } from "./executor-options.js";
import { jobPlace, linePrinter } from "./executor-run.js";
import { printJson } from "./output.js";

interface RemoteReport {
  results?: Array<{ id: string; title?: string; status: string }>;
  summary?: { executed?: number; failed?: number };
}

export async function checkRemote(
  specFile: string,
  executor: Executor,
  opts: ExecutorCliOptions & { arch?: string; root?: string; json?: boolean },
): Promise<void> {
  const { loadSiteConfig } = await import("../site/load.js");
  const { checkOnExecutor } = await import("../pipeline/remote-build.js");
  const site = await loadSiteConfig(opts.config);
  const place = jobPlace(executor, opts, undefined, site.stateDir);
  const dir = await mkdtemp(join(tmpdir(), "compat-check-"));
  try {
    const r = await checkOnExecutor({
      specFile,
      arch: opts.arch,
      root: opts.root,
      place,
      outDir: dir,
      onLine: linePrinter(undefined),
    });
    const report = r.report as RemoteReport;
    if (opts.json) printJson(report);
    else {
      const lines = (report.results ?? []).map(
        (x) => `${x.status.padEnd(5)} ${x.id}${x.title ? `  ${x.title}` : ""}`,
      );
      process.stdout.write(`checked on ${r.where}\n${lines.join("\n")}\n`);
    }
    const executed = report.summary?.executed ?? 0;
    const failed = report.summary?.failed ?? 0;
    if (executed === 0)
      throw new ValidationError(`no check ran to a verdict on ${r.where}: the run proves nothing`);
    if (failed > 0) throw new ValidationError(`${failed} of ${executed} checks failed on ${r.where}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
