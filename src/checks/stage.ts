/**
 * The check stage of a build (the pipeline owns the stage and calls this): run the whole suite on
 * the layer being built, leave the report (JSON and JUnit) in the run directory, and fail the build
 * when a check failed or none ran. It runs in the build phase: checks of the finished layer only
 * (reprod-record, whose record is written after the checks, as EESSI's role does) are skipped;
 * `compat check` on the finished layer runs them.
 */
import { ValidationError } from "../errors.js";
import type { LayerMount } from "../exec/sandbox.js";
import type { ResolvedLayer } from "../spec/resolve.js";
import { createContext } from "./context.js";
import { writeCheckReport } from "./report.js";
import { type CheckReport, runChecks } from "./runner.js";
import { targetFromLayer } from "./target.js";
import type { CheckResult } from "./types.js";

export interface CheckStageOptions {
  layer: ResolvedLayer;
  /** Where the layer's prefix is on disk (a layer built aside is not at its final place yet). */
  prefixDir: string;
  /** How the sandbox shows it at its real prefix (default: that one directory at the prefix). */
  mount?: LayerMount;
  /** The build root the build runs in (its directory): the checks' commands run in it too. */
  buildRoot?: string;
  /** The build's run directory: check-report.json and check-report.junit.xml go there. */
  runDir: string;
  onResult?: (r: CheckResult) => void;
}

export async function runCheckStage(opts: CheckStageOptions): Promise<CheckReport> {
  const mount = opts.mount ?? { prefixDir: opts.prefixDir, prefix: opts.layer.prefix };
  const target = {
    ...targetFromLayer(opts.layer, opts.prefixDir, mount, "(being built)"),
    ...(opts.buildRoot ? { buildRoot: opts.buildRoot } : {}),
  };
  const report = await runChecks(createContext(target), { onResult: opts.onResult, phase: "build" });
  const files = await writeCheckReport(opts.runDir, report);
  const s = report.summary;
  if (s.ok) return report;
  const failed = report.results.filter((r) => r.status === "fail");
  throw new ValidationError(
    s.executed === 0
      ? "the check stage ran no check to a verdict"
      : `${s.failed} of ${s.executed} checks failed: ${failed.map((r) => r.id).join(", ")}`,
    {
      details: failed.map(
        (r) =>
          `${r.id}: ${r.evidence.found}${r.evidence.files?.length ? ` (${r.evidence.files[0]}${r.evidence.files.length > 1 ? ` and ${r.evidence.files.length - 1} more` : ""})` : ""}`,
      ),
      hint: `the full report is in ${files.json} (JUnit: ${files.junit})`,
    },
  );
}
