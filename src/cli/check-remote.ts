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
import { jobPlace, linePrinter, printable } from "./executor-run.js";
import { printJson } from "./output.js";

interface RemoteReport {
  results?: Array<{ id: string; title?: string; status: string }>;
  summary?: { executed?: number; failed?: number };
}

/**
 * The verdict is counted from the host's results, never taken from its summary: each result must be
 * a check with a known status, and a summary that disagrees with the results is refused.
 */
export function remoteVerdict(report: unknown, where: string): { executed: number; failed: number } {
  const r = report as RemoteReport | null;
  const bad = (what: string) =>
    new ValidationError(`the check report from ${where} ${what}: nothing is trusted`);
  if (!r || typeof r !== "object" || !Array.isArray(r.results)) throw bad("has no results list");
  for (const x of r.results as unknown[]) {
    const c = x as { id?: unknown; title?: unknown; status?: unknown } | null;
    if (
      !c ||
      typeof c.id !== "string" ||
      (c.title !== undefined && typeof c.title !== "string") ||
      !["pass", "fail", "skip"].includes(c.status as string)
    )
      throw bad(`holds a result that is not a check (${JSON.stringify(x)?.slice(0, 120)})`);
  }
  const failed = r.results.filter((x) => x.status === "fail").length;
  const executed = r.results.filter((x) => x.status !== "skip").length;
  if (r.summary?.executed !== executed || r.summary?.failed !== failed)
    throw bad(
      `says ${String(r.summary?.executed)} executed, ${String(r.summary?.failed)} failed; its results say ${executed} and ${failed}`,
    );
  return { executed, failed };
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
    const { executed, failed } = remoteVerdict(report, r.where);
    if (opts.json) printJson(report);
    else {
      const lines = (report.results ?? []).map((x) =>
        printable(`${x.status.padEnd(5)} ${x.id}${x.title ? `  ${x.title}` : ""}`),
      );
      process.stdout.write(`checked on ${r.where}\n${lines.join("\n")}\n`);
    }
    if (executed === 0)
      throw new ValidationError(`no check ran to a verdict on ${r.where}: the run proves nothing`);
    if (failed > 0) throw new ValidationError(`${failed} of ${executed} checks failed on ${r.where}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
