/**
 * Opening a layer from its spec: the one chain every command uses to get from a spec file to the
 * layer it means. The spec is loaded and validated, the arch picked (`--arch`, else the host's when
 * the spec lists it, else the spec's only arch), the layer resolved for it, and, when the layer's
 * files are wanted, its place in the local repository root (`--root`, the spec's `root`, or
 * `compat-root/<repository>`). A prefix directory is opened by what reads it: its path's identity
 * comes from layer/id.ts (parseLayerPath), its flavor from flavors/ (detectFlavor).
 *
 *   const { layer } = await openSpec("examples/eessi-2025.06.yaml", { arch: "aarch64" });
 *   const { layer, root, localPrefix } = await openSpecLayer("examples/dev.yaml", { root: "/srv/root" });
 */

import { type LoadedSpec, loadSpec, type SpecChecks } from "./load.js";
import { localPrefix, pickArch, type ResolvedLayer, repositoryRoot, resolveLayer } from "./resolve.js";
import type { LayerSpec } from "./schema.js";

export interface OpenSpecOptions extends SpecChecks {
  /** `--arch`: which of the spec's arches. */
  arch?: string | undefined;
}

export interface OpenLayerOptions extends OpenSpecOptions {
  /** `--root`: the local directory that stands for `/cvmfs/<repository>`. */
  root?: string | undefined;
}

/** A spec's layer for one arch, at its place in a local repository root (it may not be built yet). */
export interface PlacedLayer {
  layer: ResolvedLayer;
  /** The local repository root that stands for `/cvmfs/<repository>`. */
  root: string;
  /** Where the layer's prefix is in the root, proven to be below it. */
  localPrefix: string;
}

/** The spec loaded and its layer resolved for the arch. */
export async function openSpec(
  file: string,
  opts: OpenSpecOptions = {},
): Promise<{ loaded: LoadedSpec; layer: ResolvedLayer }> {
  const loaded = await loadSpec(file, { check: opts.check });
  return { loaded, layer: resolveLayer(loaded.spec, pickArch(loaded.spec, opts.arch)) };
}

/** The spec loaded, its layer resolved for the arch and placed in the local repository root. */
export async function openSpecLayer(
  file: string,
  opts: OpenLayerOptions = {},
): Promise<PlacedLayer & { loaded: LoadedSpec }> {
  const loaded = await loadSpec(file, { check: opts.check });
  return { loaded, ...placeLayer(loaded.spec, opts) };
}

/** A loaded spec's layer for the arch, in the local repository root. */
export function placeLayer(
  spec: LayerSpec,
  opts: { arch?: string | undefined; root?: string | undefined },
): PlacedLayer {
  const layer = resolveLayer(spec, pickArch(spec, opts.arch));
  const root = repositoryRoot(spec, opts.root);
  return { layer, root, localPrefix: localPrefix(layer, root) };
}
