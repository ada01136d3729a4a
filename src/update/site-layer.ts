/**
 * One layer of the site config for one arch: its spec read and resolved, where it lives in a
 * repository (`<version>/compat/<os>/<arch>`), and its row in the store's layers table.
 */

import { InputError } from "../errors.js";
import type { Arch } from "../layer/id.js";
import { layerTopDir } from "../layer/id.js";
import { openSiteLayer } from "../site/layers.js";
import type { SiteConfig } from "../site/load.js";
import type { LoadedSpec } from "../spec/load.js";
import { pickArch, type ResolvedLayer, resolveLayer } from "../spec/resolve.js";
import { registerLayer } from "../store/layers.js";
import type { Store } from "../store/store.js";

export interface SiteLayerArch {
  /** The site config's name of the layer. */
  name: string;
  arch: Arch;
  specFile: string;
  spec: LoadedSpec;
  layer: ResolvedLayer;
  /** Where the layer lives in a repository, under `versions/`. */
  topDir: string;
}

/** The site layer `name` for `arch` (default: the host's, when the layer is kept for it). */
export async function openSiteLayerArch(
  site: SiteConfig,
  name: string,
  arch: string | undefined,
): Promise<SiteLayerArch> {
  const opened = await openSiteLayer(site, name);
  const picked = pickArch(opened.spec.spec, arch);
  if (!opened.arches.includes(picked))
    throw new InputError(`the site config keeps ${name} for ${opened.arches.join(", ")}, not ${picked}`, {
      hint: `choose --arch ${opened.arches.join(" or --arch ")}, or add ${picked} to layers.${name}.arches`,
    });
  const layer = resolveLayer(opened.spec.spec, picked);
  return {
    name,
    arch: picked,
    specFile: opened.layer.spec,
    spec: opened.spec,
    layer,
    topDir: layerTopDir(layer),
  };
}

/** Bring the layer's row in the store up to date with its spec (audited when it changed). */
export async function registerSiteLayer(store: Store, site: SiteConfig, l: SiteLayerArch, actor: string) {
  const opened = await openSiteLayer(site, l.name);
  return registerLayer(
    store,
    {
      name: l.name,
      specPath: l.specFile,
      specSha256: l.spec.hash,
      flavor: l.spec.spec.flavor,
      stack: l.spec.spec.stack,
      version: l.spec.spec.version,
      arches: opened.arches,
    },
    actor,
  );
}
