/**
 * The check suite: `runChecks(createContext(target))` gives a report; `reportJson` and
 * `reportJUnit` render it; `writeCheckReport` leaves both in a run directory.
 */
export { createContext } from "./context.js";
export { targetFromPrefix } from "./prefix-target.js";
export { CHECKS, checkById } from "./registry.js";
export { REPORT_FILES, reportJson, reportJUnit, writeCheckReport } from "./report.js";
export { type CheckReport, type RunChecksOptions, runChecks } from "./runner.js";
export { type CheckStageOptions, runCheckStage } from "./stage.js";
export { type LayerTarget, targetFromSpec } from "./target.js";
export type { Check, CheckContext, CheckResult, CheckStatus, Evidence } from "./types.js";
