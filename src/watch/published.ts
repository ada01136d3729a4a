/**
 * What is published, as the watch sees it: every layer of the site config × each of its arches ×
 * every target, located where the target keeps it. A `local:` target's directory holds the layer
 * itself; a `cvmfs:` target's layer is read under the repository's mount (`watch.cvmfsRoot`) when
 * this host has it mounted, else from the artifact the store records as published there. Only
 * reads: the watch never writes into a layer.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ArtifactManifest } from "../artifacts/manifest.js";
import { readManifest } from "../artifacts/manifest.js";
import { manifestPathFor } from "../artifacts/name.js";
import { isCompatError } from "../errors.js";
import { openSiteLayer } from "../site/layers.js";
import type { SiteConfig, SiteTarget } from "../site/load.js";
import { resolveLayer } from "../spec/resolve.js";
import type { LayerSpec } from "../spec/schema.js";
import { getArtifact } from "../store/artifacts.js";
import { currentPublication, type Publication } from "../store/publications.js";
import type { Store } from "../store/store.js";

export type PublishedWhere =
  | { kind: "prefix"; path: string }
  | { kind: "artifact"; path: string; manifest: ArtifactManifest }
  | { kind: "absent"; why: string };

export interface PublishedLayer {
  target: SiteTarget;
  /** The site config's name of the layer. */
  layer: string;
  arch: string;
  spec?: LayerSpec;
  /** `<version>/compat/<os>/<arch>`, as publications name it. */
  topDir?: string;
  where: PublishedWhere;
  /** What the store says the target holds now (resolving findings credits it). */
  publication?: Publication;
  /** Why the layer could not be looked at (its spec is unreadable). */
  error?: string;
}

export async function publishedLayers(site: SiteConfig, store: Store): Promise<PublishedLayer[]> {
  const out: PublishedLayer[] = [];
  for (const target of Object.values(site.targets)) {
    for (const name of Object.keys(site.layers).sort()) {
      let opened: Awaited<ReturnType<typeof openSiteLayer>>;
      try {
        opened = await openSiteLayer(site, name);
      } catch (e) {
        if (!isCompatError(e)) throw e;
        out.push({
          target,
          layer: name,
          arch: "*",
          where: { kind: "absent", why: "spec unreadable" },
          error: e.message,
        });
        continue;
      }
      for (const arch of opened.arches) {
        const resolved = resolveLayer(opened.spec.spec, arch);
        const inRepo = resolved.prefixInRepository;
        const topDir = inRepo.replace(/^versions\//, "");
        const publication = await currentPublication(store, target.name, topDir);
        const base = {
          target,
          layer: name,
          arch,
          spec: opened.spec.spec,
          topDir,
          ...(publication ? { publication } : {}),
        };
        const dir =
          target.target.kind === "local"
            ? join(target.target.root, inRepo)
            : join(site.watch.cvmfsRoot, target.target.repository, inRepo);
        if (existsSync(dir) && statSync(dir).isDirectory()) {
          out.push({ ...base, where: { kind: "prefix", path: dir } });
          continue;
        }
        out.push({ ...base, where: await fromStore(store, publication, target, dir) });
      }
    }
  }
  return out;
}

async function fromStore(
  store: Store,
  publication: Publication | undefined,
  target: SiteTarget,
  dir: string,
): Promise<PublishedWhere> {
  if (target.target.kind === "local") return { kind: "absent", why: `not published (${dir} does not exist)` };
  if (!publication?.sha256 || (publication.action === "rollback" && !publication.sha256))
    return { kind: "absent", why: `${dir} is not mounted here and the store records no publication of it` };
  const artifact = await getArtifact(store, publication.sha256);
  if (!artifact)
    return {
      kind: "absent",
      why: `${dir} is not mounted here and the store has no artifact ${publication.sha256.slice(0, 12)}`,
    };
  const manifestFile = manifestPathFor(artifact.path);
  // the store keeps the manifest; the file beside the artifact is used when it is still there
  const manifest = existsSync(manifestFile)
    ? (await readManifest(manifestFile)).manifest
    : (artifact.manifest as unknown as ArtifactManifest);
  return { kind: "artifact", path: artifact.path, manifest };
}
