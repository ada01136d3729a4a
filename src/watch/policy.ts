/**
 * What a watch does about new findings, by the site's `watch.autoUpdate.policy`:
 * - `off`: nothing but the findings and their notification;
 * - `propose`: for the new findings at or above `minSeverity` that have a fix, the packages the
 *   flavor's package manager would be asked for (emerge atoms, apt `name=version`), recorded in the
 *   audit log (`update.proposed`) and sent to the channels (`update-proposed`);
 * - `build`: the same, then the update loop builds a candidate for them (`UpdateStarter`:
 *   src/update/watch-starter.ts, as `compat update --packages` does); its gates run, and a person
 *   still approves.
 */
import { type Finding, type Severity, severityRank } from "../security/advisory.js";
import { appendAudit } from "../store/audit.js";
import type { Store } from "../store/store.js";
import type { LayerRef, WatchEvent } from "./notify/events.js";

export interface UpdateRequest extends LayerRef {
  packages: string[];
  reason: string;
  findings: { source: string; id: string }[];
}

/** The update loop's entry point (compat update): build a candidate for these packages; its gates run without a human step. */
export type UpdateStarter = (request: UpdateRequest) => Promise<{ candidate: number | null; state?: string }>;

export interface Proposal extends UpdateRequest {
  event: Extract<WatchEvent, { event: "update-proposed" }>;
}

/** The proposal for one layer's new findings, or undefined when none qualifies. */
export function proposalFor(
  layer: LayerRef,
  opened: readonly Finding[],
  minSeverity: Severity,
  policy: "propose" | "build" = "propose",
): Proposal | undefined {
  const qualifying = opened.filter(
    (f) =>
      severityRank(f.severity) >= severityRank(minSeverity) && (f.upgrade?.length ?? (f.fix ? 1 : 0)) > 0,
  );
  if (qualifying.length === 0) return undefined;
  const packages = [...new Set(qualifying.flatMap((f) => f.upgrade ?? (f.fix ? [f.fix] : [])))].sort();
  const findings = qualifying.map((f) => ({
    source: f.source,
    id: f.id,
    severity: f.severity,
    cves: f.cves,
  }));
  return {
    ...layer,
    packages,
    reason: `security: ${qualifying.map((f) => `${f.source} ${f.id}`).join(", ")}`.slice(0, 500),
    findings,
    event: { event: "update-proposed", ...layer, policy, packages, findings },
  };
}

/** Record a proposal in the audit log. */
export async function recordProposal(store: Store, p: Proposal, actor: string): Promise<void> {
  await appendAudit(store, {
    actor,
    action: "update.proposed",
    subject: `layer:${p.layer}/${p.arch}@${p.target}`,
    detail: {
      packages: p.packages,
      findings: p.findings.map((f) => `${f.source} ${f.id}`),
      reason: p.reason,
    },
  });
}
