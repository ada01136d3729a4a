/**
 * The source-independent model of a security audit: severities, findings and the report.
 * Every advisory source (GLSA, debian-security, gentoo-git) produces these.
 */

/**
 * The one severity scale of every source, lowest first: GLSA impact types (minimal/low, normal,
 * high), Debian urgencies (unimportant/low, medium, high, emergency/critical) map onto it.
 */
export const SEVERITIES = ["low", "normal", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

export const isSeverity = (s: unknown): s is Severity => (SEVERITIES as readonly unknown[]).includes(s);

/** A CVE id as MITRE assigns them: the year, then at least four digits. */
export const CVE_RE = /^CVE-\d{4}-\d{4,}$/;
/** CVE ids cited in free text (a changelog, a commit message), in order of first mention, upper case. */
export function citedCves(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/\bCVE-(\d{4})-(\d{4,})\b/gi)) out.add(`CVE-${m[1]}-${m[2]}`);
  return [...out];
}

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
  /**
   * What the flavor's package manager would be asked to install to fix it, when the source knows:
   * emerge atoms (`>=dev-libs/openssl-3.0.10`) or apt requests (`libssl3=3.0.15-1~deb12u1`).
   */
  upgrade?: string[];
}

/** Findings first by severity (high first), then by advisory id and installed package. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) ||
    (a.installed < b.installed ? -1 : a.installed > b.installed ? 1 : 0)
  );
}
