/**
 * The `checks` gate: the whole check suite on the candidate's finished tree, through the sandbox
 * at its real prefix, as `compat check` runs it (checks of the finished layer included). Passes
 * only when at least one check ran to a verdict and none failed.
 */
import { createContext } from "../../checks/context.js";
import { reportJson } from "../../checks/report.js";
import { runChecks } from "../../checks/runner.js";
import { targetFromLayer } from "../../checks/target.js";
import type { JsonValue } from "../../store/json.js";
import type { Gate, GateContext, GateOutcome } from "./types.js";

async function run(ctx: GateContext): Promise<GateOutcome> {
  const { layer } = ctx.layer;
  const target = targetFromLayer(
    layer,
    ctx.tree.prefixDir,
    { root: ctx.tree.root, repository: layer.repository },
    `(candidate ${ctx.candidate.id})`,
  );
  ctx.note("running the check suite on the candidate");
  const report = await runChecks(createContext(target), { phase: "finished" });
  const s = report.summary;
  const failed = report.results.filter((r) => r.status === "fail").map((r) => r.id);
  const json = { checks: reportJson(report) as JsonValue };
  if (s.executed === 0)
    return { state: "failed", summary: "no check ran to a verdict: the run proves nothing", report: json };
  if (failed.length > 0)
    return {
      state: "failed",
      summary: `${failed.length} of ${s.executed} checks failed: ${failed.join(", ")}`,
      report: json,
    };
  return { state: "passed", summary: `${s.passed} checks passed, ${s.skipped} skipped`, report: json };
}

export const checksGate: Gate = {
  id: "checks",
  title: "check suite",
  proves:
    "every check that applies to the layer passes on the candidate's finished tree (and at least one ran)",
  run,
};
