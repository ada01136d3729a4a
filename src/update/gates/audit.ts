/**
 * The `audit` gate: every advisory source the layer's flavor has, on both sides with the same
 * data — the published layer the candidate updates (its artifact's package list) and the
 * candidate's tree — and the comparison of audit-compare.ts: the findings the update was for are
 * gone and none is new. A source without data (or whose data could not be read) fails the gate:
 * "no findings" from no data proves nothing.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { getFlavor } from "../../flavors/index.js";
import { parsePackageList } from "../../gentoo/qlist.js";
import { type InstalledPackage, readVardb } from "../../gentoo/vardb.js";
import type { Finding } from "../../security/advisory.js";
import { defaultCacheDir } from "../../security/glsa/corpus.js";
import { PREFIX_GLSA_DIR } from "../../security/glsa/index.js";
import type { AdvisorySource } from "../../security/source.js";
import { advisorySources } from "../../security/sources.js";
import type { JsonValue } from "../../store/json.js";
import { type AuditComparison, compareAudits } from "./audit-compare.js";
import type { Gate, GateContext, GateOutcome } from "./types.js";

interface SourceVerdict {
  id: string;
  status: "ok" | "no-data" | "failed";
  reason: string | null;
  advisories: number;
  location: string | null;
}

interface Sides {
  sources: SourceVerdict[];
  before: Finding[];
  after: Finding[];
  installed: { before: number; after: number };
}

/** The published layer's packages as its manifest lists them (gentoo: category/name, version, slot). */
function basePackages(ctx: GateContext): InstalledPackage[] {
  const m = ctx.base?.tree.manifest as
    | { packages?: { name: string; version: string; slot?: string }[] }
    | undefined;
  const lines = (m?.packages ?? []).map((p) => `${p.name}-${p.version}${p.slot ? `:${p.slot}` : ""}`);
  return parsePackageList(lines.join("\n"), "the published layer's manifest").packages;
}

/** Audit both sides with each source, the candidate's advisory data for both. */
async function auditSides(ctx: GateContext, ids: readonly string[]): Promise<Sides> {
  const registry = advisorySources as Record<string, AdvisorySource<InstalledPackage>>;
  const sides: Sides = { sources: [], before: [], after: [], installed: { before: 0, after: 0 } };
  const after = readVardb(ctx.tree.prefixDir, { fields: ["SLOT"] }).packages;
  const before = basePackages(ctx);
  sides.installed = { before: before.length, after: after.length };
  for (const id of ids) {
    const source = Object.hasOwn(registry, id) ? registry[id] : undefined;
    if (!source) {
      sides.sources.push({
        id,
        status: "no-data",
        reason: `this compat has no ${id} advisory source`,
        advisories: 0,
        location: null,
      });
      continue;
    }
    const location = join(ctx.tree.prefixDir, PREFIX_GLSA_DIR);
    if (!existsSync(location)) {
      sides.sources.push({
        id,
        status: "no-data",
        reason: `the candidate has no ${PREFIX_GLSA_DIR}`,
        advisories: 0,
        location,
      });
      continue;
    }
    try {
      const loaded = await source.load({ location, cacheDir: defaultCacheDir() });
      if (loaded.count === 0) {
        sides.sources.push({
          id,
          status: "no-data",
          reason: `no advisories in ${location}`,
          advisories: 0,
          location,
        });
        continue;
      }
      sides.before.push(...loaded.detect(before, { arch: ctx.layer.arch }).findings);
      sides.after.push(...loaded.detect(after, { arch: ctx.layer.arch }).findings);
      sides.sources.push({
        id,
        status: "ok",
        reason: null,
        advisories: loaded.count,
        location: loaded.location,
      });
    } catch (e) {
      sides.sources.push({ id, status: "failed", reason: (e as Error).message, advisories: 0, location });
    }
  }
  return sides;
}

const brief = (f: Finding): JsonValue => ({
  source: f.source,
  id: f.id,
  package: f.package,
  installed: f.installed,
  severity: f.severity,
  fix: f.fix,
  cves: f.cves,
});

async function run(ctx: GateContext): Promise<GateOutcome> {
  const flavor = getFlavor(ctx.layer.spec.spec.flavor);
  const ids = [flavor.api.advisorySource(ctx.layer.layer).id];
  ctx.note(`auditing the published layer and the candidate with ${ids.join(", ")}`);
  const sides = await auditSides(ctx, ids);
  const c: AuditComparison = compareAudits(sides.before, sides.after, ctx.update.packages);
  const report = {
    sources: sides.sources as unknown as JsonValue,
    packages: ctx.update.packages ?? null,
    installed: sides.installed,
    before: sides.before.length,
    after: sides.after.length,
    targeted: c.targeted.map(brief),
    resolved: c.resolved.map(brief),
    remaining: c.remaining.map(brief),
    introduced: c.introduced.map(brief),
    untouched: c.untouched.length,
  };
  const missing = sides.sources.filter((s) => s.status !== "ok");
  if (sides.sources.length === 0)
    return {
      state: "failed",
      summary: `the ${flavor.id} flavor has no advisory source: nothing was audited`,
      report,
    };
  if (missing.length > 0)
    return {
      state: "failed",
      summary: `no advisory data from ${missing.map((s) => `${s.id} (${s.reason})`).join(", ")}: the audit proves nothing`,
      report,
    };
  const problems = [
    ...(c.remaining.length
      ? [
          `${c.remaining.length} finding(s) the update was for remain (${c.remaining.map((f) => `${f.id} ${f.installed}`).join(", ")})`,
        ]
      : []),
    ...(c.introduced.length
      ? [
          `${c.introduced.length} new finding(s) (${c.introduced.map((f) => `${f.id} ${f.installed}`).join(", ")})`,
        ]
      : []),
  ];
  if (problems.length > 0) return { state: "failed", summary: problems.join("; "), report };
  return {
    state: "passed",
    summary: `${c.resolved.length} finding(s) resolved, none new (${sides.sources.map((s) => `${s.id}: ${s.advisories} advisories`).join(", ")}; ${sides.after.length} left the update was not for)`,
    report,
  };
}

export const auditGate: Gate = {
  id: "audit",
  title: "security audit before/after",
  proves:
    "with every advisory source of the flavor, on the same data: the findings the update was for (of --packages, or all) are gone from the candidate and it has none the published layer had not",
  run,
};
