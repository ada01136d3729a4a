/**
 * An audit: what is installed in a target (a prefix's vdb, or a `qlist -IRv` package list)
 * against the advisories of a source, giving findings and a summary.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { InputError } from "../errors.js";
import { parsePackageList } from "../gentoo/qlist.js";
import { type InstalledPackage, readVardb, VDB_PATH } from "../gentoo/vardb.js";
import { compareFindings, type Finding, SEVERITIES, type Severity, severityRank } from "./advisory.js";
import { PREFIX_GLSA_DIR } from "./glsa/index.js";
import { advisorySources } from "./sources.js";

export interface AuditTarget {
  kind: "prefix" | "list";
  path: string;
  /** The prefix the target belongs to, when known (its advisories are the default). */
  prefix?: string;
}

/** A directory is a prefix (has var/db/pkg) or a vdb itself; a file is a package list. */
export function resolveTarget(input: string): AuditTarget {
  const path = resolve(input);
  if (!existsSync(path))
    throw new InputError(`audit target ${input} does not exist`, {
      hint: "give a prefix (a directory with var/db/pkg) or a package list as qlist -IRv prints it",
    });
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, VDB_PATH))) return { kind: "prefix", path, prefix: path };
    if (path.endsWith(`/${VDB_PATH}`)) return { kind: "prefix", path, prefix: resolve(path, "../../..") };
    throw new InputError(`${input} is not a Gentoo prefix: it has no ${VDB_PATH}`, {
      hint: "give the prefix (EPREFIX) of a layer, its var/db/pkg, or a package list",
    });
  }
  // EESSI keeps the list at <prefix>/reprod/<timestamp>/packages.txt
  const maybePrefix = resolve(dirname(path), "../..");
  const inPrefix =
    basename(resolve(dirname(path), "..")) === "reprod" && existsSync(join(maybePrefix, VDB_PATH));
  return { kind: "list", path, prefix: inPrefix ? maybePrefix : undefined };
}

export interface AuditOptions {
  target: AuditTarget;
  /** The GLSA directory; default: the target prefix's own. */
  glsaDir?: string;
  arch: string;
  cacheDir?: string;
  /** Findings at or above this severity make the audit fail (exit 1). */
  failOn: Severity;
}

export interface AuditSummary {
  target: string;
  targetType: "prefix" | "list";
  arch: string;
  source: string;
  advisoriesDir: string;
  advisories: number;
  invalidAdvisories: number;
  cache: string;
  installedPackages: number;
  findings: number;
  affectedPackages: number;
  advisoriesHit: number;
  bySeverity: Record<Severity, number>;
  failOn: Severity;
  failed: boolean;
  warnings: string[];
}

export interface AuditReport {
  findings: Finding[];
  summary: AuditSummary;
}

export function defaultGlsaDir(target: AuditTarget): string | undefined {
  if (!target.prefix) return undefined;
  const dir = join(target.prefix, PREFIX_GLSA_DIR);
  return existsSync(dir) ? dir : undefined;
}

function checkGlsaDir(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new InputError(`GLSA directory ${dir} does not exist`, {
      hint: "give --glsa DIR: a checkout of glsa.git, or a repository's metadata/glsa",
    });
}

export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const { target } = options;
  const glsaDir = options.glsaDir ?? defaultGlsaDir(target);
  if (!glsaDir)
    throw new InputError(`no GLSAs to audit against: ${target.path} has no ${PREFIX_GLSA_DIR}`, {
      hint: "give --glsa DIR (a checkout of glsa.git, or a Gentoo repository's metadata/glsa)",
    });
  checkGlsaDir(glsaDir);
  const advisories = await advisorySources.glsa.load({ location: glsaDir, cacheDir: options.cacheDir });
  if (advisories.count === 0 && advisories.invalid.length === 0)
    throw new InputError(`no GLSA files (glsa-*.xml) in ${glsaDir}`, {
      hint: "give --glsa the directory that holds the glsa-YYYYMM-NN.xml files",
    });
  const warnings: string[] = advisories.invalid.map((i) => `invalid GLSA skipped: ${i}`);

  let packages: InstalledPackage[];
  let installedCount: number;
  if (target.kind === "prefix") {
    // Only packages some advisory names need their metadata read.
    const vdb = readVardb(target.path, {
      only: (cp) => advisories.packageNames.has(cp),
      fields: ["SLOT"],
    });
    for (const p of vdb.problems) warnings.push(`${p.path}: ${p.message}`);
    packages = vdb.packages;
    installedCount = vdb.entries.length;
  } else {
    const list = parsePackageList(readFileSync(target.path, "utf8"), target.path);
    // A file with no package line at all is not a list; bad lines among good ones are skipped
    // and reported, as a corrupt vdb entry is.
    if (list.problems.length > 0 && list.packages.length === 0)
      throw new InputError(`${target.path}: not a package list (${list.problems.length} bad lines)`, {
        details: list.problems.slice(0, 20).map((p) => `${target.path}:${p.line}: ${p.message}`),
        hint: "one category/name-version[::repo] per line, as qlist -IRv prints",
      });
    for (const p of list.problems) warnings.push(`${target.path}:${p.line}: ${p.message} (line skipped)`);
    if (list.packages.some((p) => p.slot === undefined))
      warnings.push(
        `${target.path} has no slots (qlist without -S): slotted advisory ranges were applied to every slot, as Portage does for slot-less entries`,
      );
    packages = list.packages;
    installedCount = packages.length;
  }

  const result = advisories.detect(packages, { arch: options.arch });
  warnings.push(...result.warnings);
  const findings = result.findings.sort(compareFindings);
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity]++;
  return {
    findings,
    summary: {
      target: target.path,
      targetType: target.kind,
      arch: options.arch,
      source: advisories.source,
      advisoriesDir: advisories.location,
      advisories: advisories.count,
      invalidAdvisories: advisories.invalid.length,
      cache: advisories.cache,
      installedPackages: installedCount,
      findings: findings.length,
      affectedPackages: new Set(findings.map((f) => f.installed)).size,
      advisoriesHit: new Set(findings.map((f) => f.id)).size,
      bySeverity,
      failOn: options.failOn,
      failed: findings.some((f) => severityRank(f.severity) >= severityRank(options.failOn)),
      warnings,
    },
  };
}
