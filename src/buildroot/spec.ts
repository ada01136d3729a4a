/**
 * The build root a layer of one arch is built in: the spec's `buildRoot` field by field, else the
 * flavor's default (src/flavors/<id>/build-root.ts).
 */
import { getFlavor } from "../flavors/index.js";
import type { Arch } from "../layer/id.js";
import { debianSuiteOf, type LayerSpec } from "../spec/schema.js";
import { normalisedPackages } from "./identity.js";
import type { BuildRootSpec } from "./types.js";

export function buildRootFor(spec: LayerSpec, arch: Arch): BuildRootSpec {
  const fallback = getFlavor(spec.flavor).defaultBuildRoot(spec, arch);
  const own = spec.buildRoot;
  const suite = own?.suite === undefined ? undefined : debianSuiteOf({ suite: own.suite }, arch);
  const mirror = own?.mirror ?? fallback.mirror;
  return {
    suite: suite ?? fallback.suite,
    ...(mirror ? { mirror } : {}),
    packages: normalisedPackages(own?.packages ?? fallback.packages),
  };
}
