/**
 * The build root the tests that run stages in one share: a bookworm minbase with the programs the
 * gentoo bootstrap starts with (g++, git, make, patch; perl-base has perl), made once by the real
 * ensureBuildRoot (mmdebstrap) into `.cache/test-state/` and reused across files and runs while its
 * request holds (ensureBuildRoot's own lock makes parallel vitest workers wait for one maker).
 *
 *   const root = await testBuildRoot();
 *   root.dir        // .cache/test-state/buildroots/x86_64/<identity>/root
 *
 * Do not write into it: other test files use it.
 */
import { resolve } from "node:path";
import { ensureBuildRoot } from "../../src/buildroot/ensure.js";
import type { BuildRoot, BuildRootSpec } from "../../src/buildroot/types.js";
import { nodeArchToArch } from "../../src/layer/id.js";

export const TEST_STATE_DIR = resolve(import.meta.dirname, "../../.cache/test-state");

export const TEST_BUILD_ROOT: BuildRootSpec = {
  suite: "bookworm",
  packages: ["g++", "git", "make", "patch"],
};

let made: Promise<BuildRoot> | undefined;

export function testBuildRoot(): Promise<BuildRoot> {
  made ??= ensureBuildRoot(TEST_BUILD_ROOT, {
    arch: nodeArchToArch(process.arch)!,
    stateDir: TEST_STATE_DIR,
  });
  return made;
}
