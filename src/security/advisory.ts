/**
 * The source-independent model of a security audit: severities, findings and the report.
 * Every advisory source (GLSA now, Debian's security tracker later) produces these.
 */

export const SEVERITIES = ["low", "normal", "high"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

/** One advisory hitting one installed package. */
export interface Finding {
  /** The advisory source, e.g. `glsa`. */
  source: string;
  /** The advisory id, e.g. `202402-08`. */
  id: string;
  title: string;
  severity: Severity;
  /** The package name as its ecosystem spells it (`dev-libs/openssl`). */
  package: string;
  /** The installed package in full (`dev-libs/openssl-1.1.1w`). */
  installed: string;
  /** The installed package's slot, when known. */
  slot: string | null;
  /** The advisory's vulnerable ranges for this package, as atoms. */
  vulnerable: string[];
  /** The advisory's unaffected ranges for this package, as atoms. */
  unaffected: string[];
  /** The smallest upgrade that fixes it, as an installable atom; null when the advisory offers none. */
  fix: string | null;
  cves: string[];
  url: string;
}

/** Findings first by severity (high first), then by advisory id and installed package. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) ||
    (a.installed < b.installed ? -1 : a.installed > b.installed ? 1 : 0)
  );
}
