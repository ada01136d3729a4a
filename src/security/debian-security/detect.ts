/**
 * The debian-security detector. Installed binary packages are grouped by source package and
 * source version (dpkg's `Source:` field); a source the security suite offers in a newer
 * version is missing security updates. Which ones, and which CVEs, the newer version's changelog
 * says: every entry after the installed version that cites CVEs is one finding
 * (`<source>_<version>`, named as Debian names an upload), with that entry's CVEs and urgency. An
 * update whose changelog cites no CVE, or whose changelog is not available, is one finding with
 * no CVE, so an update is never dropped. With the security tracker's JSON, CVEs still open in
 * the layer's release are findings too (`fix: null`), as are CVEs the tracker says are fixed in a
 * version newer than the installed one that no changelog entry cited.
 */
import type { InstalledPackage } from "../../debian/status.js";
import { compareVersions, isValidVersion } from "../../debian/version.js";
import { type Finding, type Severity, severityRank } from "../advisory.js";
import type { DetectResult } from "../source.js";
import { parseChangelog } from "./changelog.js";
import type { ChangelogLookup } from "./changelogs.js";
import type { IndexBinary, PackagesIndex } from "./packages.js";
import type { TrackerIssue } from "./tracker.js";
import { urgencySeverity } from "./urgency.js";

export const TRACKER_URL = "https://security-tracker.debian.org/tracker/";

export interface DebianDetectInput {
  packages: PackagesIndex;
  changelog(source: string, version: string, binaries: readonly IndexBinary[]): Promise<ChangelogLookup>;
  /** The tracker's issues of the layer's release, by source package (when a tracker file is given). */
  tracker?: (source: string) => { issues: TrackerIssue[]; problems: string[] };
}

interface SourceGroup {
  source: string;
  version: string;
  binaries: InstalledPackage[];
}

const maxSeverity = (xs: Severity[], fallback: Severity): Severity =>
  xs.length === 0 ? fallback : xs.reduce((a, b) => (severityRank(b) > severityRank(a) ? b : a));

export function groupBySource(packages: readonly InstalledPackage[]): SourceGroup[] {
  const groups = new Map<string, SourceGroup>();
  for (const p of packages) {
    const key = `${p.source}\0${p.sourceVersion}`;
    const g = groups.get(key) ?? { source: p.source, version: p.sourceVersion, binaries: [] };
    g.binaries.push(p);
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
}

export async function detectDebian(
  installed: readonly InstalledPackage[],
  input: DebianDetectInput,
): Promise<DetectResult> {
  const findings: Finding[] = [];
  const warnings: string[] = [];
  for (const g of groupBySource(installed)) {
    if (!isValidVersion(g.version)) {
      warnings.push(
        `${g.source}: installed source version ${JSON.stringify(g.version)} is not a Debian version; skipped`,
      );
      continue;
    }
    const installedLabel = `${g.source}_${g.version}`;
    const tracked = input.tracker?.(g.source);
    for (const p of tracked?.problems ?? []) warnings.push(`${p} (skipped)`);
    const trackerByCve = new Map((tracked?.issues ?? []).map((i) => [i.cve, i]));
    const trackerSeverity = (cves: string[]) =>
      cves
        .map((c) => trackerByCve.get(c))
        .filter((i) => i !== undefined)
        .map((i) => urgencySeverity(i.urgency).severity);
    const cited = new Set<string>();
    const base = {
      source: "debian-security",
      package: g.source,
      installed: installedLabel,
      slot: null,
    } as const;

    const offered = input.packages.sources.get(g.source);
    if (offered && compareVersions(offered.version, g.version) > 0) {
      const names = new Set(g.binaries.map((b) => b.name));
      const upgrade = [
        ...new Set(offered.binaries.filter((b) => names.has(b.name)).map((b) => `${b.name}=${b.version}`)),
      ].sort();
      // the binaries the layer has are tried first for the changelog
      const candidates = [...offered.binaries].sort(
        (a, b) => Number(names.has(b.name)) - Number(names.has(a.name)),
      );
      const lookup = await input.changelog(g.source, offered.version, candidates);
      const parsed = lookup.text !== undefined ? parseChangelog(lookup.text) : undefined;
      const entries = (parsed?.entries ?? []).filter(
        (e) => compareVersions(e.version, g.version) > 0 && compareVersions(e.version, offered.version) <= 0,
      );
      if (lookup.text === undefined)
        warnings.push(`${g.source} ${offered.version}: ${lookup.note}; its CVEs are unknown`);
      else if (parsed?.problem)
        warnings.push(
          `${g.source} ${offered.version}: changelog (${lookup.note}) is not usable: ${parsed.problem}; skipped`,
        );
      const withCves = entries.filter((e) => e.cves.length > 0);
      const fixing = (version: string) => ({
        vulnerable: [`${g.source} (<< ${version})`],
        unaffected: [`${g.source} (>= ${version})`],
        fix: `${g.source} (>= ${version})`,
      });
      if (withCves.length === 0) {
        const urgencies = entries.map((e) => urgencySeverity(e.urgency).severity);
        findings.push({
          ...base,
          id: `${g.source}_${offered.version}`,
          title:
            lookup.text === undefined || parsed?.problem
              ? `${g.source} security update ${offered.version} (changelog not available: CVEs unknown)`
              : `${g.source} security update ${offered.version} (the changelog cites no CVE)`,
          severity: maxSeverity(urgencies, "normal"),
          ...fixing(offered.version),
          cves: [],
          url: `${TRACKER_URL}source-package/${g.source}`,
          upgrade,
        });
      }
      for (const e of withCves) {
        for (const c of e.cves) cited.add(c);
        const fromTracker = trackerSeverity(e.cves);
        findings.push({
          ...base,
          id: `${g.source}_${e.version}`,
          title:
            `${g.source} ${e.version} (${e.distributions.join(" ")}, urgency ${e.urgency})${e.summary ? `: ${e.summary}` : ""}`.slice(
              0,
              200,
            ),
          severity: maxSeverity(fromTracker, urgencySeverity(e.urgency).severity),
          ...fixing(e.version),
          cves: e.cves,
          url: `${TRACKER_URL}source-package/${g.source}`,
          upgrade,
        });
      }
    }

    for (const issue of tracked?.issues ?? []) {
      if (cited.has(issue.cve)) continue;
      const { severity } = urgencySeverity(issue.urgency);
      const nodsa = issue.nodsa ? `; no advisory planned: ${issue.nodsa}` : "";
      if (issue.status === "open") {
        if (/^unimportant/.test(issue.urgency)) continue;
        findings.push({
          ...base,
          id: issue.cve,
          title: `${g.source}: ${issue.cve} open, no fix yet (urgency ${issue.urgency}${nodsa})`.slice(
            0,
            200,
          ),
          severity,
          vulnerable: [`${g.source} (>= 0)`],
          unaffected: [],
          fix: null,
          cves: [issue.cve],
          url: `${TRACKER_URL}${issue.cve}`,
        });
      } else if (
        issue.status === "resolved" &&
        issue.fixedVersion !== null &&
        issue.fixedVersion !== "0" &&
        compareVersions(g.version, issue.fixedVersion) < 0
      ) {
        findings.push({
          ...base,
          id: issue.cve,
          title:
            `${g.source}: ${issue.cve} fixed in ${issue.fixedVersion} (urgency ${issue.urgency}${nodsa})`.slice(
              0,
              200,
            ),
          severity,
          vulnerable: [`${g.source} (<< ${issue.fixedVersion})`],
          unaffected: [`${g.source} (>= ${issue.fixedVersion})`],
          fix: `${g.source} (>= ${issue.fixedVersion})`,
          cves: [issue.cve],
          url: `${TRACKER_URL}${issue.cve}`,
        });
      }
    }
  }
  return { findings, warnings };
}
