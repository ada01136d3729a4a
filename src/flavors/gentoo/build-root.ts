/**
 * The gentoo flavor's default build root: what bootstrap-prefix.sh's first stage needs from the
 * machine it starts on (a C and C++ compiler, make, patch, the compressors of the distfiles, a
 * downloader with CA certificates, git for the repository checkout, perl and python3), as EESSI's
 * build container has them (ghcr.io/eessi/build-node-compat-layer:debian-12: gcc, g++, make,
 * diffutils, libgmp-dev, perl, wget, git, python3; reference/compat-layer.md §2.3), without what it
 * carries for Ansible. Debian 12 (bookworm), and 13 (trixie) for riscv64, an official Debian port
 * only from trixie on (EESSI's riscv64 container is debian-13 too).
 */
import type { BuildRootSpec } from "../../buildroot/types.js";
import type { Arch } from "../../layer/id.js";

export const BUILD_ROOT_PACKAGES = [
  "bzip2",
  "ca-certificates",
  "curl",
  "file",
  "g++",
  "gcc",
  "git",
  "libgmp-dev",
  "make",
  "patch",
  "perl",
  "python3",
  "wget",
  "xz-utils",
];

export function defaultBuildRoot(_spec: unknown, arch: Arch): BuildRootSpec {
  return { suite: arch === "riscv64" ? "trixie" : "bookworm", packages: [...BUILD_ROOT_PACKAGES] };
}
