/**
 * What the site's targets hold. Each publisher keeps its own history (`history.db` beside a local
 * repository, in the state dir of a cvmfs one): it is written under the repository's lock in the
 * same step as the publish it records, and it is what the publisher's crash recovery, rollback and
 * delta checks read. The store's publications table mirrors those histories for the whole site,
 * with the candidate each publication came from: `syncPublications` copies the events the store
 * lacks (idempotent: an event is keyed by its publisher, id and time), so a publish whose process
 * was killed after the swap but before it wrote to the store is recorded by the next command.
 *
 * A delta's tree equals its candidate's full artifact (the delta gate proved it), so what a target
 * holds is named by a full artifact: the one published, or the full twin of the delta published.
 */
import { InputError } from "../errors.js";
import type { Publisher } from "../publish/publisher.js";
import { type PublisherOptions, publisherFor } from "../publish/target.js";
import type { SiteTarget } from "../site/load.js";
import { type ArtifactRecord, getArtifact } from "../store/artifacts.js";
import { type Candidate, candidatesWithArtifact } from "../store/candidates.js";
import { listPublications, type Publication, recordPublication } from "../store/publications.js";
import type { Store } from "../store/store.js";

/** The publisher of a site target (cvmfs: its lock and history in the publisher's default state dir). */
export function publisherOf(target: SiteTarget, opts: PublisherOptions = {}): Publisher {
  return publisherFor(target.to, opts);
}

const journalIdOf = (publisher: Publisher, e: { id: number; at: string }) =>
  `${publisher.target}#${e.id}@${e.at}`;

/**
 * Copy the publisher's history of `topDir` into the store's publications (under the site target's
 * name) where the store lacks it; returns what the target holds now (its newest event), or
 * undefined when compat never published the layer there. `candidateHint` names the candidate a
 * sha256 was just published from (otherwise the newest candidate with that artifact is taken).
 */
export async function syncPublications(
  store: Store,
  target: SiteTarget,
  publisher: Publisher,
  topDir: string,
  candidateHint?: { sha256: string; candidateId: number },
): Promise<Publication | undefined> {
  const events = await publisher.history(topDir);
  if (events.length === 0) return undefined;
  const known = new Set(
    (await listPublications(store, { target: target.name, layer: topDir, limit: 100_000 })).map(
      (p) => p.journalId,
    ),
  );
  let newest: Publication | undefined;
  for (const e of events) {
    const journalId = journalIdOf(publisher, e);
    if (known.has(journalId) && e !== events.at(-1)) continue;
    let candidateId: number | null = null;
    if (e.sha256) {
      if (candidateHint?.sha256 === e.sha256) candidateId = candidateHint.candidateId;
      else candidateId = (await candidatesWithArtifact(store, e.sha256))[0]?.id ?? null;
    }
    newest = await recordPublication(store, {
      target: target.name,
      layer: topDir,
      action: e.action,
      kind: e.kind,
      sha256: e.sha256,
      previousSha256: e.previousSha256,
      artifact: e.artifact,
      backup: e.backup,
      candidateId,
      user: e.user,
      host: e.host,
      at: e.at,
      detail: e.detail,
      journalId,
    });
  }
  return newest;
}

/**
 * The full artifact whose tree a publication's sha256 stands for: the artifact itself when it is
 * a full one, else the full artifact of the candidate whose delta it is. Undefined when the store
 * does not know it.
 */
export async function treeArtifactOf(store: Store, sha256: string): Promise<ArtifactRecord | undefined> {
  const artifact = await getArtifact(store, sha256);
  if (artifact?.kind === "full") return artifact;
  const twin: Candidate | undefined = (await candidatesWithArtifact(store, sha256)).find(
    (c) => c.deltaSha256 === sha256 && c.fullSha256 !== null,
  );
  return twin ? getArtifact(store, twin.fullSha256!) : undefined;
}

export interface HeldLayer {
  publication: Publication;
  /** The full artifact whose tree the target holds. */
  tree: ArtifactRecord;
}

/**
 * What `target` holds of `topDir`, as a full artifact the store knows; undefined when nothing was
 * published there. InputError (exit 2) when it holds something compat cannot name an artifact for.
 */
export async function heldLayer(
  store: Store,
  target: SiteTarget,
  publisher: Publisher,
  topDir: string,
): Promise<HeldLayer | undefined> {
  const current = await syncPublications(store, target, publisher, topDir);
  if (!current) {
    const held = await publisher.inventory?.();
    if (held?.layers.includes(topDir))
      throw new InputError(
        `${target.name} (${target.to}) holds ${topDir}, but compat has no record of publishing it there`,
        {
          hint: `publish the layer's full artifact through the site config first: compat publish ARTIFACT --to ${target.name}`,
        },
      );
    return undefined;
  }
  if (!current.sha256)
    throw new InputError(
      `${target.name} holds ${topDir} as a rollback restored it, from no artifact compat knows`,
      {
        hint: `publish the layer's full artifact through the site config: compat publish ARTIFACT --to ${target.name}`,
      },
    );
  const tree = await treeArtifactOf(store, current.sha256);
  if (!tree)
    throw new InputError(
      `${target.name} holds ${topDir} from the artifact ${current.artifact ?? "?"} (sha256 ${current.sha256}), which the store does not know`,
      {
        hint: `publish it (or its full artifact) through the site config, so the store records it: compat publish ARTIFACT --to ${target.name}`,
      },
    );
  return { publication: current, tree };
}
