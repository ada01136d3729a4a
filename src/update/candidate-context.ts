/**
 * Everything about one candidate that gates and promotion need, gathered from the store and the
 * site config: its layer and arch, the update that made it, its tree and artifacts, and the base.
 */
import { InputError } from "../errors.js";
import { type SiteConfig, type SiteTarget, siteTarget } from "../site/load.js";
import { localPrefix } from "../spec/resolve.js";
import { type ArtifactRecord, getArtifact } from "../store/artifacts.js";
import { type Candidate, requireCandidate } from "../store/candidates.js";
import type { Store } from "../store/store.js";
import { openSiteLayerArch, type SiteLayerArch } from "./site-layer.js";
import { type UpdateRecord, updateOfRun, updateRoot } from "./update-record.js";

export interface CandidateContext {
  candidate: Candidate;
  layer: SiteLayerArch;
  update: UpdateRecord;
  target: SiteTarget;
  tree: { root: string; prefixDir: string };
  full: ArtifactRecord;
  delta: ArtifactRecord | undefined;
  base: { target: SiteTarget; tree: ArtifactRecord } | undefined;
}

export async function candidateContext(
  site: SiteConfig,
  store: Store,
  id: number,
): Promise<CandidateContext> {
  const candidate = await requireCandidate(store, id);
  const layer = await openSiteLayerArch(site, candidate.layer, candidate.arch);
  const update = await updateOfRun(store, site, candidate.runId);
  const target = siteTarget(site, candidate.target);
  const need = async (sha: string | null, what: string) => {
    const a = sha ? await getArtifact(store, sha) : undefined;
    if (!a) throw new InputError(`candidate ${id} has no ${what} artifact in the store ${store.description}`);
    return a;
  };
  const full = await need(candidate.fullSha256, "full");
  const delta = candidate.deltaSha256 ? await need(candidate.deltaSha256, "delta") : undefined;
  const baseTree = update.baseSha256 ? await need(update.baseSha256, "base") : undefined;
  const root = updateRoot(update.dir);
  return {
    candidate,
    layer,
    update,
    target,
    tree: { root, prefixDir: localPrefix(layer.layer, root) },
    full,
    delta,
    base: baseTree ? { target, tree: baseTree } : undefined,
  };
}
