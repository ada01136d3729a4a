/** How `compat check` shows its report and its list of checks to people (loaded when the command runs). */
import { checkFlavors } from "../checks/applies.js";
import { CHECKS } from "../checks/registry.js";
import { evidenceLines, oneLine } from "../checks/report.js";
import type { CheckReport } from "../checks/runner.js";
import { describeVersions } from "../checks/versions.js";
import { renderTable, style } from "../text.js";
import { printJson } from "./output.js";

const STATUS_TEXT = {
  pass: () => style.green("pass"),
  fail: () => style.red("FAIL"),
  skip: () => style.dim("skip"),
};

export function renderReport(report: CheckReport): string {
  const t = report.target;
  const head = `${style.bold("compat check")}: ${t.origin} (${t.flavor}, ${t.arch}${t.version ? `, ${t.version}` : ""})`;
  const table = renderTable(
    ["status", "check", "result"],
    report.results.map((r) => [STATUS_TEXT[r.status](), r.id, oneLine(r.evidence.found)]),
  );
  const failures = report.results
    .filter((r) => r.status === "fail")
    .map((r) =>
      [style.bold(`${r.id}: ${r.title}`), ...evidenceLines(r.evidence).map((l) => `  ${l}`)].join("\n"),
    );
  const s = report.summary;
  const verdict =
    s.executed === 0
      ? style.red("no check ran to a verdict")
      : s.ok
        ? style.green("every check that applies passed")
        : style.red(`${s.failed} failed`);
  const counts = `checks: ${s.passed} pass, ${s.failed} fail, ${s.skipped} skip in ${(report.durationMs / 1000).toFixed(1)} s`;
  return [
    head,
    "",
    table,
    ...(failures.length > 0 ? ["", ...failures] : []),
    "",
    `${counts}; ${verdict}`,
  ].join("\n");
}

export function printCheckList(json: boolean): void {
  if (json) {
    printJson(
      CHECKS.map((c) => ({
        id: c.id,
        title: c.title,
        flavors: checkFlavors(c),
        versions: c.versions,
        eessi: c.eessi ?? null,
        proves: c.proves,
      })),
    );
    return;
  }
  process.stdout.write(
    `${renderTable(
      ["check", "flavors", "versions", "EESSI", "what a pass proves"],
      CHECKS.map((c) => [
        c.id,
        checkFlavors(c).join(","),
        describeVersions(c.versions),
        c.eessi ?? "",
        c.proves,
      ]),
    )}\n`,
  );
}
