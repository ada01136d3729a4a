/**
 * The `audit` gate: every advisory source the layer's flavor has (each source of its package
 * database's ecosystem: glsa and gentoo-git, or debian-security), on both sides with the same
 * data — the layer the candidate updates (its published full artifact's packages) and the
 * candidate's tree, both judged with the candidate's facts (release, apt sources, GLSA directory,
 * pinned commit) and the site's advisory settings — then the comparison of audit-compare.ts: the
 * findings the update was for are gone and none is new. A source without data, or whose data
 * failed to load, fails the gate: "no findings" from no data proves nothing. A first candidate
 * (nothing published yet) has no before: every finding it has is new.
 */

import type { ArtifactManifest } from "../../artifacts/manifest.js";
import type { Finding } from "../../security/advisory.js";
import { auditInventory, type SourceReport } from "../../security/audit.js";
import { artifactInventory, type Inventory, readInventory } from "../../security/inventory.js";
import { newSession } from "../../security/source.js";
import { sourcesFor } from "../../security/sources.js";
import { debianSuiteOf } from "../../spec/schema.js";
import type { JsonValue } from "../../store/json.js";
import { siteAdvisorySettings } from "../../watch/run.js";
import { assertArtifactUnchanged } from "../artifact-files.js";
import { type AuditComparison, compareAudits } from "./audit-compare.js";
import type { Gate, GateContext, GateOutcome } from "./types.js";

/** The candidate's tree as an inventory, its facts completed from the spec where its files are silent. */
async function candidateInventory(ctx: GateContext): Promise<Inventory> {
  const dir = ctx.tree.prefixDir;
  const inv = await readInventory({ kind: "prefix", path: dir, prefix: dir }, ctx.layer.arch);
  const spec = ctx.layer.spec.spec;
  if (!inv.facts.debianRelease)
    inv.facts.debianRelease = spec.debian && debianSuiteOf(spec.debian, ctx.layer.arch);
  if (!inv.facts.gentooCommit && spec.gentoo?.repository.commit)
    inv.facts.gentooCommit = spec.gentoo.repository.commit;
  inv.facts.label = `candidate ${ctx.candidate.id} (${dir})`;
  return inv;
}

/** The published layer's packages (its full artifact), judged with the candidate's facts: the same data. */
async function baseInventory(ctx: GateContext, after: Inventory): Promise<Inventory | undefined> {
  if (!ctx.base) return undefined;
  const tree = ctx.base.tree;
  assertArtifactUnchanged(tree, "the audit gate (the published layer)");
  const inv = await artifactInventory(
    { kind: "artifact", path: tree.path },
    tree.manifest as unknown as ArtifactManifest,
  );
  if (inv.ecosystem !== after.ecosystem)
    throw new Error(
      `the published layer is a ${inv.ecosystem} layer and the candidate a ${after.ecosystem} one`,
    );
  return { ...inv, facts: { ...after.facts, label: `${ctx.base.target.name}'s ${tree.path}` } } as Inventory;
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

const sourceBrief = (s: SourceReport): JsonValue => ({
  id: s.id,
  status: s.status,
  reason: s.reason,
  location: s.location,
  advisories: s.advisories,
  freshness: s.freshness ? { asOf: s.freshness.asOf, stale: s.freshness.stale } : null,
});

const listed = (fs: readonly Finding[]) => fs.map((f) => `${f.id} ${f.installed}`).join(", ");

async function run(ctx: GateContext): Promise<GateOutcome> {
  const after = await candidateInventory(ctx);
  const before = await baseInventory(ctx, after);
  const ids = sourcesFor(after.ecosystem);
  const settings = siteAdvisorySettings(ctx.site);
  const session = newSession();
  ctx.note(`auditing ${before ? "the published layer and " : ""}the candidate with ${ids.join(", ")}`);
  const a = await auditInventory(after, ids, settings, session);
  const b = before ? await auditInventory(before, ids, settings, session) : undefined;
  const c: AuditComparison = compareAudits(b?.findings ?? [], a.findings, ctx.update.packages);
  // a source is usable when it judged both sides
  const sources = a.sources.map((s) => {
    const other = b?.sources.find((x) => x.id === s.id);
    return other &&
      other.status !== "ok" &&
      other.status !== "stale" &&
      (s.status === "ok" || s.status === "stale")
      ? { ...other, reason: `the published layer: ${other.reason}` }
      : s;
  });
  const report = {
    sources: sources.map(sourceBrief),
    packages: ctx.update.packages ?? null,
    installed: { before: before?.installedCount ?? 0, after: after.installedCount },
    before: b?.findings.length ?? null,
    after: a.findings.length,
    targeted: c.targeted.map(brief),
    resolved: c.resolved.map(brief),
    remaining: c.remaining.map(brief),
    introduced: c.introduced.map(brief),
    untouched: c.untouched.length,
    warnings: [...new Set([...(b?.warnings ?? []), ...a.warnings])].slice(0, 50),
  };
  if (ids.length === 0)
    return {
      state: "failed",
      summary: `${after.ecosystem} layers have no advisory source: nothing was audited`,
      report,
    };
  const missing = sources.filter((s) => s.status !== "ok" && s.status !== "stale");
  if (missing.length > 0)
    return {
      state: "failed",
      summary: `no advisory data from ${missing.map((s) => `${s.id} (${s.reason})`).join(", ")}: the audit proves nothing`,
      report,
    };
  const problems = [
    ...(c.remaining.length
      ? [`${c.remaining.length} finding(s) the update was for remain (${listed(c.remaining)})`]
      : []),
    ...(c.introduced.length
      ? [`${c.introduced.length} finding(s) ${before ? "new" : "in a first layer"} (${listed(c.introduced)})`]
      : []),
  ];
  if (problems.length > 0) return { state: "failed", summary: problems.join("; "), report };
  const stale = sources.filter((s) => s.status === "stale").map((s) => s.id);
  return {
    state: "passed",
    summary: `${c.resolved.length} finding(s) resolved, none new (${sources.map((s) => `${s.id}: ${s.advisories} advisories`).join(", ")}; ${c.untouched.length} left the update was not for)${stale.length ? `; stale data: ${stale.join(", ")}` : ""}`,
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
