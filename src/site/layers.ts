/** A site layer with its spec read: the arches it is kept up to date for, checked against the spec's. */
import { InputError } from "../errors.js";
import type { Arch } from "../layer/id.js";
import { type LoadedSpec, loadSpec } from "../spec/load.js";
import { type SiteConfig, type SiteLayer, siteLayer } from "./load.js";

export interface OpenedSiteLayer {
  layer: SiteLayer;
  spec: LoadedSpec;
  arches: Arch[];
}

/** Read the spec of the layer `name`; InputError (exit 2) when the config lists an arch the spec lacks. */
export async function openSiteLayer(config: SiteConfig, name: string): Promise<OpenedSiteLayer> {
  const layer = siteLayer(config, name);
  const spec = await loadSpec(layer.spec);
  const specArches: readonly Arch[] = spec.spec.arches;
  const missing = (layer.arches ?? []).filter((a) => !specArches.includes(a));
  if (missing.length > 0)
    throw new InputError(
      `${config.file ?? "site config"}: layers.${name}.arches has ${missing.join(", ")}, which ${layer.spec} does not build (its arches: ${specArches.join(", ")})`,
    );
  return { layer, spec, arches: layer.arches ?? [...specArches] };
}
