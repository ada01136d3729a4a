/** One candidate with everything known about it, for `compat candidate` and the server. */
import type { PackageDiff } from "../artifacts/diff.js";
import type { SiteConfig } from "../site/load.js";
import { type ApprovalRecord, listApprovals } from "../store/approvals.js";
import { type ArtifactRecord, getArtifact } from "../store/artifacts.js";
import { type Candidate, requireCandidate } from "../store/candidates.js";
import { type GateResult, gatesDigest, listGates } from "../store/gates.js";
import type { Store } from "../store/store.js";
import type { PolicyVerdict } from "./approval-policy.js";
import { targetVerdicts } from "./approve.js";
import { reapInterruptedUpdates } from "./interrupted.js";
import { type UpdateRecord, updateOfRun } from "./update-record.js";

export interface CandidateDescription {
  candidate: Candidate;
  update: UpdateRecord | null;
  packageDiff: PackageDiff | null;
  full: ArtifactRecord | undefined;
  delta: ArtifactRecord | undefined;
  gates: GateResult[];
  gatesDigest: string;
  /** Every approval and rejection, voided ones included. */
  approvals: ApprovalRecord[];
  /** What the standing approvals allow, per site target. */
  targets: PolicyVerdict[];
}

export async function describeCandidate(
  site: SiteConfig,
  store: Store,
  id: number,
): Promise<CandidateDescription> {
  await reapInterruptedUpdates(store);
  const candidate = await requireCandidate(store, id);
  const gates = await listGates(store, id);
  const digest = gatesDigest(gates);
  return {
    candidate,
    update: await updateOfRun(store, site, candidate.runId).catch(() => null),
    packageDiff: candidate.packageDiff as unknown as PackageDiff | null,
    full: candidate.fullSha256 ? await getArtifact(store, candidate.fullSha256) : undefined,
    delta: candidate.deltaSha256 ? await getArtifact(store, candidate.deltaSha256) : undefined,
    gates,
    gatesDigest: digest,
    approvals: await listApprovals(store, id, { includeVoided: true }),
    targets: await targetVerdicts(site, store, candidate, digest),
  };
}
