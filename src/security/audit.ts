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
  /** Installed packages audited (vdb entries or list lines read). */
  installedPackages: number;
  /** vdb entries an advisory names that could not be read (corrupt or partial): not audited. */
  skippedPackages: number;
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
  /** Installed packages audited: found in the target and read, whether or not an advisory names them. */
  let auditedCount: number;
  /** Entries an advisory names that could not be read (corrupt, partial): not audited. */
  let skippedCount = 0;
  if (target.kind === "prefix") {
    // Only packages some advisory names need their metadata read.
    const only = (cp: string) => advisories.packageNames.has(cp);
    const vdb = readVardb(target.path, { only, fields: ["SLOT"] });
    for (const p of vdb.problems) warnings.push(`${p.path}: ${p.message}`);
    packages = vdb.packages;
    skippedCount = vdb.entries.filter((e) => only(e.cp)).length - vdb.packages.length;
    auditedCount = vdb.entries.length - skippedCount;
    if (auditedCount === 0)
      throw new InputError(
        vdb.entries.length === 0
          ? `${vdb.directory} has no installed packages: there is nothing to audit`
          : `none of the ${vdb.entries.length} entries of ${vdb.directory} could be read: nothing was audited`,
        {
          details: vdb.problems.slice(0, 20).map((p) => `${p.path}: ${p.message}`),
          hint: "audit a layer's prefix (EPREFIX) whose var/db/pkg holds its installed packages, or its reprod/<stamp>/packages.txt",
        },
      );
  } else {
    const list = parsePackageList(readFileSync(target.path, "utf8"), target.path);
    // A file with no package line at all is not a list; bad lines among good ones are skipped
    // and reported, as a corrupt vdb entry is.
    if (list.packages.length === 0)
      throw new InputError(
        list.problems.length > 0
          ? `${target.path}: not a package list (${list.problems.length} bad lines)`
          : `${target.path}: no package in it (empty, or only comments): there is nothing to audit`,
        {
          details: list.problems.slice(0, 20).map((p) => `${target.path}:${p.line}: ${p.message}`),
          hint: "one category/name-version[::repo] per line, as qlist -IRv prints",
        },
      );
    for (const p of list.problems) warnings.push(`${target.path}:${p.line}: ${p.message} (line skipped)`);
    if (list.packages.some((p) => p.slot === undefined))
      warnings.push(
        `${target.path} has no slots (qlist without -S): slotted advisory ranges were applied to every slot, as Portage does for slot-less entries`,
      );
    packages = list.packages;
    auditedCount = packages.length;
  }
  if (skippedCount > 0)
    warnings.push(
      `${skippedCount} installed package${skippedCount === 1 ? "" : "s"} that an advisory names could not be read and ${skippedCount === 1 ? "was" : "were"} not audited (see the warnings above)`,
    );

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
      installedPackages: auditedCount,
      skippedPackages: skippedCount,
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
