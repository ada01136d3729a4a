/**
 * Build roots (issue 18): Debian trees compat makes with mmdebstrap, identifies by their package
 * list and caches under the state dir; builds run in them instead of on the host's userland.
 *
 *   const spec = buildRootFor(layerSpec, "x86_64");          // the spec's buildRoot or the flavor's
 *   const root = await ensureBuildRoot(spec, { arch: "x86_64", stateDir });
 *   root.dir        // the tree, to be the sandbox's `/` (read-only)
 *   root.identity   // sha256 of its package list (name, version, arch) with arch and suite
 *
 * Import cycle note: spec.ts asks the flavor registry for defaults; a flavor folder that needs
 * ensureBuildRoot imports ./ensure.js (and ./types.js), not this index.
 */

export { ensureBuildRoot, releaseBuildRoot } from "./ensure.js";
export { buildHostPreflight } from "./preflight.js";
export { buildRootFor } from "./spec.js";
export type { BuildRoot, BuildRootPackage, BuildRootSpec, EnsureBuildRootOptions } from "./types.js";
