/**
 * Before any test file runs in a whole-suite run (`npm test` sets COMPAT_TEST_WARM_CACHES=1): the
 * layers and build root that test files share, built side by side into `.cache/` (or found there).
 * Without it the first file to need one builds it while the others wait on its lock in their hooks.
 */
import { testBuildRoot } from "./helpers/build-root.js";
import { devLayer, outdatedDevLayer } from "./helpers/dev-layer.js";

export default async function warmSharedCaches(): Promise<void> {
  if (process.env.COMPAT_TEST_WARM_CACHES !== "1" || process.getuid?.() !== 0) return;
  const started = Date.now();
  process.stdout.write("the shared test layers and build root (built once into .cache/, then reused) …\n");
  await Promise.all([devLayer(), outdatedDevLayer(), testBuildRoot()]);
  process.stdout.write(`… ready after ${Math.round((Date.now() - started) / 1000)} s\n`);
}
