/**
 * `compat status`: the site's layers × arches × targets — which full artifact (sha256) each target
 * holds now (the publishers' histories synced into the store first), and the open candidates of
 * each layer and arch with their gates and approvals.
 */
import type { SiteConfig } from "../site/load.js";
import { listApprovals } from "../store/approvals.js";
import { OPEN_CANDIDATE_STATES } from "../store/candidate-states.js";
import { type Candidate, listCandidates } from "../store/candidates.js";
import { listGates } from "../store/gates.js";
import type { Store } from "../store/store.js";
import { reapInterruptedUpdates } from "./interrupted.js";
import { openSiteLayerArch } from "./site-layer.js";
import { publisherOf, syncPublications, treeArtifactOf } from "./targets.js";

export interface HeldCell {
  /** The full artifact whose tree the target holds (null when the store cannot name one). */
  sha256: string | null;
  /** The artifact published last (a delta's own sha256 after a delta). */
  publishedSha256: string | null;
  kind: "full" | "delta" | null;
  action: "publish" | "rollback";
  candidate: number | null;
  publication: number;
  at: string;
  by: string;
}

export interface CandidateSummary {
  id: number;
  state: Candidate["state"];
  target: string;
  fullSha256: string | null;
  baseSha256: string | null;
  gates: Record<string, string>;
  approvals: string[];
  requestedBy: string;
  reason: string | null;
  createdAt: string;
}

export interface StatusRow {
  layer: string;
  arch: string;
  topDir: string;
  /** By target name: what it holds, or null when nothing was published there. */
  targets: Record<string, HeldCell | null | { error: string }>;
  candidates: CandidateSummary[];
}

export interface SiteStatus {
  store: string;
  targets: string[];
  rows: StatusRow[];
}

export async function siteStatus(
  site: SiteConfig,
  store: Store,
  filter: { layer?: string; arch?: string } = {},
): Promise<SiteStatus> {
  await reapInterruptedUpdates(store);
  const rows: StatusRow[] = [];
  const targets = Object.values(site.targets);
  for (const name of Object.keys(site.layers)) {
    if (filter.layer !== undefined && name !== filter.layer) continue;
    const first = await openSiteLayerArch(site, name, undefined).catch(() => undefined);
    const arches = site.layers[name]!.arches ?? first?.spec.spec.arches ?? [];
    for (const arch of arches) {
      if (filter.arch !== undefined && arch !== filter.arch) continue;
      const l = await openSiteLayerArch(site, name, arch);
      const row: StatusRow = { layer: name, arch, topDir: l.topDir, targets: {}, candidates: [] };
      for (const t of targets) {
        try {
          const p = await syncPublications(store, t, publisherOf(t), l.topDir);
          row.targets[t.name] = p
            ? {
                sha256: p.sha256 ? ((await treeArtifactOf(store, p.sha256))?.sha256 ?? null) : null,
                publishedSha256: p.sha256,
                kind: p.kind,
                action: p.action,
                candidate: p.candidateId,
                publication: p.id,
                at: p.at,
                by: p.user,
              }
            : null;
        } catch (e) {
          row.targets[t.name] = { error: (e as Error).message };
        }
      }
      const open = await listCandidates(store, { layer: name, arch, state: OPEN_CANDIDATE_STATES });
      for (const c of open.reverse()) {
        const gates = Object.fromEntries((await listGates(store, c.id)).map((g) => [g.gate, g.state]));
        const approvals = (await listApprovals(store, c.id))
          .filter((a) => a.verdict === "approve")
          .map((a) => a.approver);
        row.candidates.push({
          id: c.id,
          state: c.state,
          target: c.target,
          fullSha256: c.fullSha256,
          baseSha256: c.baseSha256,
          gates,
          approvals: [...new Set(approvals)],
          requestedBy: c.requestedBy,
          reason: c.reason,
          createdAt: c.createdAt,
        });
      }
      rows.push(row);
    }
  }
  return { store: store.description, targets: targets.map((t) => t.name), rows };
}
