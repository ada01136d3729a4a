/**
 * An audit: what is installed in a target (a layer's prefix, an artifact, a `qlist -IRv` list)
 * against every advisory source of its ecosystem (or the ones asked for), giving findings, a
 * report per source (with how current its data is), and a summary. A source without data is
 * reported as such, never as "no findings".
 */
import { InputError, isCompatError } from "../errors.js";
import { compareFindings, type Finding, SEVERITIES, type Severity, severityRank } from "./advisory.js";
import { type AuditTarget, type Inventory, readInventory } from "./inventory.js";
import {
  type AdvisorySettings,
  type Ecosystem,
  type Freshness,
  type LoadedAdvisories,
  newSession,
  type SourceSession,
} from "./source.js";
import { type AdvisorySourceId, advisorySources, ecosystemsOf, isSourceId, sourcesFor } from "./sources.js";

export { type AuditTarget, resolveTarget } from "./inventory.js";

/** The default age (days) past which a source's data counts as stale. */
export const DEFAULT_MAX_AGE_DAYS = 7;

export interface AuditOptions {
  target: AuditTarget;
  arch: string;
  /** Source ids; default: every source of the target's ecosystem. */
  sources?: readonly string[];
  settings?: Partial<AdvisorySettings>;
  /** Shorthands for settings.glsa.dir and settings.cacheDir. */
  glsaDir?: string;
  cacheDir?: string;
  /** Findings at or above this severity make the audit fail (exit 1). */
  failOn: Severity;
  session?: SourceSession;
}

export type SourceStatus = "ok" | "stale" | "no-data" | "failed";

export interface SourceReport {
  id: string;
  displayName: string;
  status: SourceStatus;
  /** Why it has no data, failed, or is stale. */
  reason: string | null;
  location: string | null;
  advisories: number;
  invalid: number;
  cache: string | null;
  freshness: Freshness | null;
  findings: number;
}

export interface AuditSummary {
  target: string;
  targetType: AuditTarget["kind"];
  ecosystem: Ecosystem;
  arch: string;
  /** The sources used, comma-separated. */
  source: string;
  /** The first source's data location. */
  advisoriesDir: string | null;
  advisories: number;
  invalidAdvisories: number;
  cache: string;
  /** Installed packages audited (vdb entries, status stanzas or list lines read). */
  installedPackages: number;
  /** Installed packages present but unreadable (corrupt or partial): not audited. */
  skippedPackages: number;
  findings: number;
  affectedPackages: number;
  advisoriesHit: number;
  bySeverity: Record<Severity, number>;
  failOn: Severity;
  failed: boolean;
  /** Sources whose data is missing, failed to load or stale: "no findings" does not mean safe. */
  incomplete: boolean;
  sources: SourceReport[];
  warnings: string[];
}

export interface AuditReport {
  findings: Finding[];
  summary: AuditSummary;
}

function settingsOf(options: AuditOptions): AdvisorySettings {
  const s = options.settings ?? {};
  return {
    ...s,
    maxAgeDays: s.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS,
    cacheDir: options.cacheDir ?? s.cacheDir,
    glsa: { ...s.glsa, ...(options.glsaDir !== undefined ? { dir: options.glsaDir } : {}) },
  };
}

/** Which sources to use for an inventory; InputError for an unknown one or one of another ecosystem. */
export function chooseSources(
  ecosystem: Ecosystem,
  asked: readonly string[] | undefined,
  label: string,
): AdvisorySourceId[] {
  if (asked === undefined || asked.length === 0) return sourcesFor(ecosystem);
  const out: AdvisorySourceId[] = [];
  for (const id of asked) {
    if (!isSourceId(id))
      throw new InputError(`--source ${id}: no such advisory source`, {
        hint: `the sources are ${Object.keys(advisorySources).join(", ")}`,
      });
    if (!sourcesFor(ecosystem).includes(id))
      throw new InputError(
        `--source ${id} judges ${ecosystemsOf(id).join(" and ")} layers, and ${label} is a ${ecosystem} layer`,
        { hint: `the sources for ${ecosystem} layers are ${sourcesFor(ecosystem).join(", ")}` },
      );
    if (!out.includes(id)) out.push(id);
  }
  return out;
}

/**
 * Audit an inventory with the given sources. A source that has no data or fails is reported
 * in its SourceReport (never thrown), so one source's trouble does not hide another's findings.
 * Errors that are bugs (not CompatErrors) are thrown.
 */
export async function auditInventory(
  inventory: Inventory,
  ids: readonly AdvisorySourceId[],
  settings: AdvisorySettings,
  session: SourceSession = newSession(),
): Promise<{
  findings: Finding[];
  sources: SourceReport[];
  warnings: string[];
  errors: Map<string, unknown>;
}> {
  const findings: Finding[] = [];
  const sources: SourceReport[] = [];
  const warnings: string[] = [...inventory.warnings];
  const errors = new Map<string, unknown>();
  for (const id of ids) {
    const source = advisorySources[id];
    const report: SourceReport = {
      id,
      displayName: source.displayName,
      status: "ok",
      reason: null,
      location: null,
      advisories: 0,
      invalid: 0,
      cache: null,
      freshness: null,
      findings: 0,
    };
    sources.push(report);
    try {
      // a source of another ecosystem never gets here (chooseSources), so the packages are its kind
      const loaded = (await source.open(inventory.facts, settings, session)) as LoadedAdvisories<
        (typeof inventory.packages)[number]
      >;
      report.location = loaded.location;
      report.advisories = loaded.count;
      report.invalid = loaded.invalid.length;
      report.cache = loaded.cache;
      report.freshness = loaded.freshness ?? null;
      for (const i of loaded.invalid)
        warnings.push(`invalid ${id === "glsa" ? "GLSA" : `${id} entry`} skipped: ${i}`);
      // a source that loaded but holds nothing to judge by checked nothing: no data, not "no findings"
      if (loaded.count === 0)
        throw new InputError(
          `${loaded.location}: no usable advisory in it: there is nothing to check against`,
        );
      const result = await loaded.detect(inventory.packages as never[], { arch: inventory.facts.arch });
      warnings.push(...result.warnings);
      findings.push(...result.findings);
      report.findings = result.findings.length;
      if (loaded.freshness?.stale) {
        report.status = "stale";
        report.reason = `data ${loaded.freshness.asOf ? `from ${loaded.freshness.asOf}` : "of unknown age"} (${loaded.freshness.basis}) is older than ${loaded.freshness.maxAgeDays} days`;
        warnings.push(`${id}: ${report.reason}: "no findings" may only mean old data`);
      }
    } catch (e) {
      if (!isCompatError(e)) throw e;
      errors.set(id, e);
      report.status = e instanceof InputError ? "no-data" : "failed";
      report.reason = e.hint ? `${e.message} (${e.hint})` : e.message;
      warnings.push(`${id}: ${report.status === "no-data" ? "no data" : "failed"}: ${report.reason}`);
    }
  }
  return { findings: findings.sort(compareFindings), sources, warnings, errors };
}

export function summarize(
  inventory: Inventory,
  findings: Finding[],
  sources: SourceReport[],
  warnings: string[],
  failOn: Severity,
): AuditSummary {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity]++;
  const used = sources.filter((s) => s.status === "ok" || s.status === "stale");
  return {
    target: inventory.target.path,
    targetType: inventory.target.kind,
    ecosystem: inventory.ecosystem,
    arch: inventory.facts.arch,
    source: sources.map((s) => s.id).join(","),
    advisoriesDir: used[0]?.location ?? null,
    advisories: used.reduce((n, s) => n + s.advisories, 0),
    invalidAdvisories: used.reduce((n, s) => n + s.invalid, 0),
    cache: used[0]?.cache ?? "off",
    installedPackages: inventory.installedCount,
    skippedPackages: inventory.skippedCount,
    findings: findings.length,
    affectedPackages: new Set(findings.map((f) => f.installed)).size,
    advisoriesHit: new Set(findings.map((f) => `${f.source}:${f.id}`)).size,
    bySeverity,
    failOn,
    failed: findings.some((f) => severityRank(f.severity) >= severityRank(failOn)),
    incomplete: sources.some((s) => s.status !== "ok"),
    sources,
    warnings,
  };
}

/**
 * `compat audit`: a source asked for by name that has no data is an error (exit 2, as is a target
 * whose every source has none); among the default sources, one without data is reported in the
 * summary and as a warning.
 */
export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const inventory = await readInventory(options.target, options.arch);
  const ids = chooseSources(inventory.ecosystem, options.sources, options.target.path);
  const result = await auditInventory(inventory, ids, settingsOf(options), options.session);
  const explicit = options.sources !== undefined && options.sources.length > 0;
  const unusable = result.sources.filter((s) => s.status === "no-data" || s.status === "failed");
  if (unusable.length > 0 && (explicit || unusable.length === result.sources.length)) {
    const first = result.errors.get(unusable[0]!.id);
    if (unusable.length === 1 && isCompatError(first)) throw first;
    throw new InputError(
      `no advisory data for ${options.target.path}: ${unusable.length === result.sources.length ? "none of its sources has any" : `${unusable.map((s) => s.id).join(", ")} ha${unusable.length === 1 ? "s" : "ve"} none`}`,
      {
        details: unusable.flatMap((s) => {
          const e = result.errors.get(s.id);
          if (!isCompatError(e)) return [`${s.id}: ${s.reason}`];
          return [`${s.id}: ${e.message}`, ...(e.hint ? [`  hint: ${e.hint}`] : [])];
        }),
      },
    );
  }
  return {
    findings: result.findings,
    summary: summarize(inventory, result.findings, result.sources, result.warnings, options.failOn),
  };
}
