/** An audit report for people: one table row per finding, then the counts by severity. */
import { renderTable, style } from "../cli/output.js";
import type { Finding, Severity } from "./advisory.js";
import type { AuditReport } from "./audit.js";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const paint: Record<Severity, (s: string) => string> = {
  high: style.red,
  normal: style.yellow,
  low: style.dim,
};

function cveCell(f: Finding): string {
  if (f.cves.length <= 2) return f.cves.join(" ") || "-";
  return `${f.cves.slice(0, 2).join(" ")} (+${f.cves.length - 2})`;
}

export function renderAuditText(report: AuditReport): string {
  const s = report.summary;
  const out = [
    style.bold(`Security audit of ${s.target}`),
    `${plural(s.installedPackages, "installed package")} (${s.targetType === "prefix" ? "vdb" : "package list"}), ` +
      `${plural(s.advisories, "advisory", "advisories")} from ${s.advisoriesDir} (cache: ${s.cache}), arch ${s.arch}`,
    "",
  ];
  if (report.findings.length > 0) {
    out.push(
      renderTable(
        ["ADVISORY", "SEVERITY", "INSTALLED", "SLOT", "FIX", "CVES", "TITLE"],
        report.findings.map((f) => [
          `${f.source.toUpperCase()} ${f.id}`,
          paint[f.severity](f.severity),
          f.installed,
          f.slot ?? "-",
          f.fix ?? "(none: remove it)",
          cveCell(f),
          f.title,
        ]),
      ),
      "",
    );
  }
  const counts = `${s.bySeverity.high} high, ${s.bySeverity.normal} normal, ${s.bySeverity.low} low`;
  out.push(
    report.findings.length === 0
      ? s.skippedPackages > 0
        ? style.yellow(
            `No advisory affects the ${plural(s.installedPackages, "audited package")}; ${plural(s.skippedPackages, "package")} an advisory names could not be read and ${s.skippedPackages === 1 ? "was" : "were"} not audited (see the warnings).`,
          )
        : style.green(`No advisory affects the ${plural(s.installedPackages, "audited package")}.`)
      : `${plural(s.findings, "finding")} in ${plural(s.affectedPackages, "package")} from ${plural(s.advisoriesHit, "advisory", "advisories")}: ${counts}`,
  );
  return `${out.join("\n")}\n`;
}
