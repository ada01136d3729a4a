/**
 * An audit report for people: one table row per finding, then the counts by severity, then one
 * line per source that has no data, failed or is stale (so "no findings" is never silently
 * "no data").
 */
import { renderTable, style } from "../text.js";
import { type Finding, SEVERITIES, type Severity } from "./advisory.js";
import type { AuditReport } from "./audit.js";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const paint: Record<Severity, (s: string) => string> = {
  critical: (s) => style.bold(style.red(s)),
  high: style.red,
  normal: style.yellow,
  low: style.dim,
};

function cveCell(f: Finding): string {
  if (f.cves.length <= 2) return f.cves.join(" ") || "-";
  return `${f.cves.slice(0, 2).join(" ")} (+${f.cves.length - 2})`;
}

/** What a source's count counts. */
const UNITS: Record<string, [string, string]> = {
  "debian-security": ["source package", "source packages"],
  "gentoo-git": ["commit", "commits"],
};

const DATABASE = { prefix: "installed", list: "package list", artifact: "artifact manifest" } as const;

export function renderAuditText(report: AuditReport): string {
  const s = report.summary;
  const out = [
    style.bold(`Security audit of ${s.target}`),
    `${plural(s.installedPackages, "installed package")} (${s.ecosystem}, ${DATABASE[s.targetType]}), arch ${s.arch}`,
  ];
  for (const src of s.sources) {
    const data =
      src.status === "ok" || src.status === "stale"
        ? `${plural(src.advisories, ...(UNITS[src.id] ?? ["advisory", "advisories"]))} from ${src.location}${src.cache && src.cache !== "off" ? ` (cache: ${src.cache})` : ""}${src.freshness?.asOf ? `, data of ${src.freshness.asOf.slice(0, 10)}` : ""}`
        : "";
    out.push(`  ${src.id}: ${src.status === "ok" ? data : `${src.status.toUpperCase()}: ${src.reason}`}`);
  }
  out.push("");
  if (report.findings.length > 0) {
    out.push(
      renderTable(
        ["ADVISORY", "SEVERITY", "INSTALLED", "SLOT", "FIX", "CVES", "TITLE"],
        report.findings.map((f) => [
          `${f.source.toUpperCase()} ${f.id}`,
          paint[f.severity](f.severity),
          f.installed,
          f.slot ?? "-",
          f.fix ?? (f.source === "glsa" ? "(none: remove it)" : "(none yet)"),
          cveCell(f),
          f.title,
        ]),
      ),
      "",
    );
  }
  const counts = [...SEVERITIES]
    .reverse()
    .map((sev) => `${s.bySeverity[sev]} ${sev}`)
    .join(", ");
  out.push(
    report.findings.length === 0
      ? s.incomplete || s.skippedPackages > 0
        ? style.yellow(
            `No findings in the ${plural(s.installedPackages, "audited package")}, but ${[
              ...(s.incomplete ? ["not every source had current data"] : []),
              ...(s.skippedPackages > 0
                ? [
                    `${plural(s.skippedPackages, "package")} could not be read and ${s.skippedPackages === 1 ? "was" : "were"} not audited`,
                  ]
                : []),
            ].join(", and ")} (see above).`,
          )
        : style.green(`No advisory affects the ${plural(s.installedPackages, "audited package")}.`)
      : `${plural(s.findings, "finding")} in ${plural(s.affectedPackages, "package")} from ${plural(s.advisoriesHit, "advisory", "advisories")}: ${counts}`,
  );
  return `${out.join("\n")}\n`;
}
