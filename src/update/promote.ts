/**
 * Publishing to a site target under its policy: `compat promote CANDIDATE --to TARGET` and
 * `compat publish ARTIFACT --to TARGET` (a target of the site config) come here. Right before the
 * publisher runs, with the target's lease held: every gate is green, the approvals that count for
 * the target's policy are checked again (signatures with the site's keys, the artifact's and
 * manifest's sha256, the gates' digest), and the artifact's and manifest's files are hashed again;
 * the publisher is then told the one sha256 it may publish, which it checks again on the very
 * stream it extracts. Anything short of that is refused with exit 3 and nothing is published.
 *
 * A promotion publishes the candidate's delta when the target holds exactly the layer the delta
 * applies to (the publisher's own history says so), else its full artifact: either gives the same
 * tree (the delta gate proved it).
 */
import { resolve } from "node:path";
import type { ArtifactManifest } from "../artifacts/manifest.js";
import { ValidationError } from "../errors.js";
import { deltaBaseMatches, type Publisher, type PublishResult } from "../publish/publisher.js";
import { type SiteConfig, type SiteTarget, siteTarget } from "../site/load.js";
import { currentUser } from "../store/actor.js";
import { listApprovals } from "../store/approvals.js";
import { type ArtifactRecord, getArtifact } from "../store/artifacts.js";
import {
  type Candidate,
  candidatesWithArtifact,
  requireCandidate,
  transitionCandidate,
} from "../store/candidates.js";
import { listGates } from "../store/gates.js";
import { withLease } from "../store/leases.js";
import type { Publication } from "../store/publications.js";
import type { Store } from "../store/store.js";
import {
  approvalSubject,
  evaluateApprovals,
  type PolicyVerdict,
  verdictShortfall,
} from "./approval-policy.js";
import { greenGates, loadApproverKeys } from "./approve.js";
import { assertArtifactUnchanged, readArtifactFiles, recordArtifactFile } from "./artifact-files.js";
import { emitUpdateEvent } from "./events.js";
import { supersedeOlder } from "./gates/run.js";
import { reapInterruptedUpdates } from "./interrupted.js";
import { openSiteLayerArch } from "./site-layer.js";
import { publisherOf, syncPublications } from "./targets.js";

export interface PublishOutcome {
  target: string;
  candidate: Candidate | undefined;
  artifact: { path: string; sha256: string; kind: "full" | "delta" };
  result: PublishResult;
  publication: Publication | undefined;
  /** The policy's verdict the publish went ahead on (null when the target needs no approval and the artifact is no candidate's). */
  verdict: PolicyVerdict | null;
}

export interface SitePublishOptions {
  signal?: AbortSignal;
  /** The publisher (default: the target's, publisherOf). */
  publisher?: Publisher;
  manifestPath?: string;
  publicKeyPath?: string;
  allowSetuid?: string[];
  /** Why: recorded in the publisher's history (and the cvmfs revision's tag). */
  reason?: string;
}

/** What the policy says about a candidate for a target now; exit 3 unless it may be published there. */
async function requireApproved(
  site: SiteConfig,
  store: Store,
  candidate: Candidate,
  target: SiteTarget,
): Promise<PolicyVerdict> {
  if (!["ready", "approved", "published"].includes(candidate.state))
    throw new ValidationError(
      `candidate ${candidate.id} is ${candidate.state}: only a candidate whose gates passed can be published`,
      { hint: `compat candidate ${candidate.id} shows why` },
    );
  const { digest, problems } = await greenGates(site, store, candidate);
  if (problems.length > 0)
    throw new ValidationError(`candidate ${candidate.id} cannot be published: not every gate passed`, {
      details: problems,
    });
  const full = await getArtifact(store, candidate.fullSha256!);
  if (!full) throw new ValidationError(`candidate ${candidate.id} has no full artifact in the store`);
  const verdict = evaluateApprovals({
    target: target.name,
    policy: target.policy,
    subject: approvalSubject(candidate, full, digest),
    approvals: await listApprovals(store, candidate.id),
    keys: await loadApproverKeys(site),
  });
  if (!verdict.ok)
    throw new ValidationError(
      `candidate ${candidate.id} cannot be published to ${target.name}: its approvals do not satisfy ${target.name}'s policy; nothing was published`,
      {
        details: verdictShortfall(verdict),
        hint: `approve it: compat approve ${candidate.id} --key KEY (an approver's key of ${site.file ?? "the site config"})`,
      },
    );
  // the approved artifact itself, as it is on disk now
  assertArtifactUnchanged(full, `publishing candidate ${candidate.id} to ${target.name}`);
  return verdict;
}

/** The delta when the target's publisher holds exactly its base, else undefined. */
async function deltaIfApplies(
  store: Store,
  publisher: Publisher,
  topDir: string,
  candidate: Candidate,
): Promise<ArtifactRecord | undefined> {
  if (!candidate.deltaSha256) return undefined;
  const delta = await getArtifact(store, candidate.deltaSha256);
  if (!delta || delta.baseSha256 === null) return undefined;
  // the delta gate's report names the delta it proved: no other delta is published
  const gate = (await listGates(store, candidate.id)).find((g) => g.gate === "delta");
  const proved = (gate?.report as { delta?: { sha256?: string } } | null)?.delta?.sha256;
  if (proved !== delta.sha256) return undefined;
  // the layer published from the base artifact, or one whose tree is the base's (chained deltas)
  const latest = (await publisher.history(topDir)).at(-1);
  return deltaBaseMatches(delta.manifest as unknown as ArtifactManifest, latest) ? delta : undefined;
}

async function afterPublish(
  site: SiteConfig,
  store: Store,
  target: SiteTarget,
  publisher: Publisher,
  topDir: string,
  published: { sha256: string; kind: "full" | "delta" },
  candidate: Candidate | undefined,
): Promise<{ candidate: Candidate | undefined; publication: Publication | undefined }> {
  const publication = await syncPublications(
    store,
    target,
    publisher,
    topDir,
    candidate ? { sha256: published.sha256, candidateId: candidate.id } : undefined,
  );
  let c = candidate;
  const actor = currentUser();
  if (c?.state === "approved")
    c = await transitionCandidate(store, c.id, "published", { actor, reason: `published to ${target.name}` });
  if (c && c.target === target.name) await supersedeOlder(store, c, actor);
  if (publication)
    await emitUpdateEvent(site, store, {
      event: "publication",
      target: target.name,
      layer: c?.layer ?? topDir,
      arch: c?.arch ?? topDir.split("/").at(-1)!,
      publication: publication.id,
      sha256: publication.sha256,
      kind: publication.kind,
      by: actor,
      action: "publish",
    });
  return { candidate: c, publication };
}

/** What the publisher's history says about a promotion: the candidate and why it was made, one line. */
export function promotionReason(c: Candidate): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a reason is one printable line
  const why = (c.reason ?? "").replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return `candidate ${c.id}${why ? `: ${why}` : ""}`.slice(0, 500);
}

/** `compat promote CANDIDATE --to TARGET`. */
export async function promoteCandidate(
  site: SiteConfig,
  store: Store,
  candidateId: number,
  targetName: string,
  opts: SitePublishOptions = {},
): Promise<PublishOutcome> {
  await reapInterruptedUpdates(store);
  const target = siteTarget(site, targetName);
  const first = await requireCandidate(store, candidateId);
  const layer = await openSiteLayerArch(site, first.layer, first.arch);
  const publisher = opts.publisher ?? publisherOf(target);
  return withLease(
    store,
    `publish:${target.name}:${layer.topDir}`,
    { purpose: `compat promote ${candidateId} --to ${target.name}` },
    async () => {
      await syncPublications(store, target, publisher, layer.topDir);
      const candidate = await requireCandidate(store, candidateId);
      const verdict = await requireApproved(site, store, candidate, target);
      const full = (await getArtifact(store, candidate.fullSha256!))!;
      const chosen = (await deltaIfApplies(store, publisher, layer.topDir, candidate)) ?? full;
      if (chosen !== full) assertArtifactUnchanged(chosen, `publishing candidate ${candidate.id}'s delta`);
      const result = await publisher.publish({
        artifact: chosen.path,
        approvedSha256: chosen.sha256,
        reason: opts.reason ?? promotionReason(candidate),
        signal: opts.signal,
      });
      const after = await afterPublish(site, store, target, publisher, layer.topDir, chosen, candidate);
      return {
        target: target.name,
        candidate: after.candidate,
        artifact: { path: chosen.path, sha256: chosen.sha256, kind: chosen.kind },
        result,
        publication: after.publication,
        verdict,
      };
    },
  );
}

/**
 * `compat publish ARTIFACT --to TARGET` for a target of the site config: a target whose policy
 * needs approvals takes only an artifact of a candidate whose approvals satisfy it; the artifact
 * is recorded in the store (a later update builds over it) and so is the publication.
 */
export async function publishToSiteTarget(
  site: SiteConfig,
  store: Store,
  artifactPath: string,
  targetName: string,
  opts: SitePublishOptions = {},
): Promise<PublishOutcome> {
  await reapInterruptedUpdates(store);
  const target = siteTarget(site, targetName);
  const files = await readArtifactFiles(artifactPath);
  const topDir = files.manifest.topDir;
  const publisher = opts.publisher ?? publisherOf(target);
  return withLease(
    store,
    `publish:${target.name}:${topDir}`,
    { purpose: `compat publish ${files.manifest.artifact} --to ${target.name}` },
    async () => {
      await syncPublications(store, target, publisher, topDir);
      const candidates = await candidatesWithArtifact(store, files.sha256);
      let candidate: Candidate | undefined;
      let verdict: PolicyVerdict | null = null;
      if (target.policy.approvals > 0) {
        if (candidates.length === 0)
          throw new ValidationError(
            `${target.name} needs ${target.policy.approvals} approval${target.policy.approvals === 1 ? "" : "s"}, and ${files.manifest.artifact} (sha256 ${files.sha256}) is no candidate's artifact, so nobody approved it; nothing was published`,
            {
              details: [`missing: ${target.policy.approvals} approval(s) of a candidate with this artifact`],
              hint: "make a candidate of the layer with compat update, let its gates pass, approve it, then compat promote it",
            },
          );
        const refusals: string[] = [];
        for (const c of candidates) {
          try {
            verdict = await requireApproved(site, store, c, target);
            candidate = c;
            break;
          } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
            refusals.push(`candidate ${c.id}: ${e.message}`, ...e.details.map((d) => `  ${d}`));
          }
        }
        if (!candidate)
          throw new ValidationError(
            `${files.manifest.artifact} cannot be published to ${target.name}: no candidate with this artifact has the approvals ${target.name}'s policy needs; nothing was published`,
            { details: refusals },
          );
        if (files.sha256 === candidate.deltaSha256) {
          const delta = await deltaIfApplies(store, publisher, topDir, candidate);
          if (!delta)
            throw new ValidationError(
              `${files.manifest.artifact} is candidate ${candidate.id}'s delta, but ${target.name} does not hold the layer it applies to (or its delta gate did not prove it)`,
              {
                hint: `promote the candidate instead (its full artifact then): compat promote ${candidate.id} --to ${target.name}`,
              },
            );
        }
      } else candidate = candidates[0];
      if (!(await getArtifact(store, files.sha256)))
        await recordArtifactFile(
          store,
          files.path,
          candidate ? { layer: candidate.layer, arch: candidate.arch } : {},
        );
      const result = await publisher.publish({
        artifact: files.path,
        approvedSha256: files.sha256,
        manifestPath: opts.manifestPath,
        publicKeyPath: opts.publicKeyPath,
        allowSetuid: opts.allowSetuid,
        reason: opts.reason,
        signal: opts.signal,
      });
      const after = await afterPublish(
        site,
        store,
        target,
        publisher,
        topDir,
        { sha256: files.sha256, kind: files.manifest.kind },
        candidate,
      );
      return {
        target: target.name,
        candidate: after.candidate,
        artifact: { path: files.path, sha256: files.sha256, kind: files.manifest.kind },
        result,
        publication: after.publication,
        verdict,
      };
    },
  );
}

/** `compat rollback --to TARGET` for a target of the site config: the publisher's rollback, recorded in the store. */
export async function rollbackSiteTarget(
  site: SiteConfig,
  store: Store,
  targetName: string,
  topDir: string,
  opts: { publisher?: Publisher; reason?: string } = {},
) {
  const target = siteTarget(site, targetName);
  const publisher = opts.publisher ?? publisherOf(target);
  return withLease(
    store,
    `publish:${target.name}:${topDir}`,
    { purpose: `compat rollback --to ${target.name}` },
    async () => {
      await syncPublications(store, target, publisher, topDir);
      const result = await publisher.rollback(topDir, opts.reason);
      const publication = await syncPublications(store, target, publisher, topDir);
      if (publication)
        await emitUpdateEvent(site, store, {
          event: "publication",
          target: target.name,
          layer: topDir,
          arch: topDir.split("/").at(-1)!,
          publication: publication.id,
          sha256: publication.sha256,
          kind: publication.kind,
          by: currentUser(),
          action: "rollback",
        });
      return { result, publication };
    },
  );
}

/**
 * The site target a `--to` names: by its name, or by its `to` (`local:DIR` compared as absolute
 * paths), so that a target's policy also applies when it is spelled as a place. Undefined when
 * `to` is a place the site config does not list.
 */
export function findSiteTarget(site: SiteConfig, to: string): SiteTarget | undefined {
  if (!to.includes(":")) return siteTarget(site, to); // throws with the names there are
  const local = to.startsWith("local:") ? `local:${resolve(to.slice("local:".length))}` : undefined;
  return Object.values(site.targets).find((t) => t.to === to || (local !== undefined && t.to === local));
}
