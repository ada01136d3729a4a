/**
 * What a candidate is made of once its tree is built: how its packages differ from the published
 * layer's, its full artifact and its delta against the published artifact (`compat pack` and
 * `pack --delta-from`, the same code), both recorded in the store.
 */
import { join } from "node:path";
import { diffPackages, type PackageDiff } from "../artifacts/diff.js";
import type { ArtifactManifest } from "../artifacts/manifest.js";
import { packLayer } from "../artifacts/pack.js";
import { readInstalledPackages } from "../flavors/installed.js";
import { layerStateDir, type SiteConfig } from "../site/load.js";
import type { ArtifactRecord } from "../store/artifacts.js";
import type { Store } from "../store/store.js";
import { recordArtifactFile } from "./artifact-files.js";
import type { SiteLayerArch } from "./site-layer.js";

/** The package diff between the published layer (its manifest) and the candidate's tree. */
export async function candidatePackageDiff(
  prefixDir: string,
  base: ArtifactManifest | undefined,
): Promise<PackageDiff> {
  const after = await readInstalledPackages(prefixDir);
  if (!after) throw new Error(`${prefixDir} has no package database after its build`);
  const before =
    base?.packages && base.packageDatabase
      ? { database: base.packageDatabase, packages: base.packages }
      : { database: after.database, packages: [] };
  return diffPackages(before, after);
}

export function packagesChanged(d: PackageDiff): boolean {
  return d.added.length + d.removed.length + d.upgraded.length + d.downgraded.length > 0;
}

export interface CandidateArtifacts {
  full: ArtifactRecord;
  delta: ArtifactRecord | undefined;
}

/**
 * Where an update's artifacts go: `<state>/artifacts/<layer>/<arch>/update-<run>/`, a directory of
 * its own, so that no pack can replace another update's artifact (or the published base) of the
 * same name (same build time, or SOURCE_DATE_EPOCH set).
 */
export function updateArtifactsDir(site: SiteConfig, layer: SiteLayerArch, runId: number): string {
  return join(layerStateDir(site, "artifacts", layer.name, layer.arch), `update-${runId}`);
}

/** Pack the candidate's tree (full, and a delta against `base`) into `outDir`, and record both. */
export async function packCandidate(
  store: Store,
  layer: SiteLayerArch,
  prefixDir: string,
  outDir: string,
  base: ArtifactRecord | undefined,
  onProgress?: (message: string) => void,
): Promise<CandidateArtifacts> {
  const spec = layer.spec.spec;
  const common = {
    prefix: prefixDir,
    stack: spec.stack,
    version: spec.version,
    os: spec.os,
    arch: layer.arch,
    outDir,
    specHash: layer.spec.hash,
    flavor: spec.flavor,
  };
  const at = { layer: layer.name, arch: layer.arch };
  onProgress?.("packing the full artifact");
  const full = await packLayer(common);
  const fullRecord = await recordArtifactFile(store, full.artifact, at);
  if (!base) return { full: fullRecord, delta: undefined };
  onProgress?.(`packing the delta against ${base.path.split("/").at(-1)}`);
  const delta = await packLayer({ ...common, deltaFrom: base.path });
  return { full: fullRecord, delta: await recordArtifactFile(store, delta.artifact, at) };
}
