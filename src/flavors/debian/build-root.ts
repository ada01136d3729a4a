/**
 * The debian flavor's default build root: mmdebstrap's minbase (Debian's essential packages and
 * apt: a shell, coreutils, the loader and ldd) of the layer's own suite and mirror, which is all the
 * checks and later stages run from the host's side need; the layer brings its own programs.
 */
import type { BuildRootSpec } from "../../buildroot/types.js";
import type { Arch } from "../../layer/id.js";
import { debianSuiteOf, type LayerSpec } from "../../spec/schema.js";

export function defaultBuildRoot(spec: Pick<LayerSpec, "debian">, arch: Arch): BuildRootSpec {
  const suite = spec.debian ? debianSuiteOf(spec.debian, arch) : undefined;
  return {
    suite: suite ?? (arch === "riscv64" ? "trixie" : "bookworm"),
    ...(spec.debian?.mirror ? { mirror: spec.debian.mirror } : {}),
    packages: [],
  };
}
