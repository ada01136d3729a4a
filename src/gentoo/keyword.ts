/** Gentoo keywords (profile ARCH) of the CPU families a layer is built for. Kept apart from the GLSA code so the CLI can name them without loading it. */

/** The Gentoo keyword (profile ARCH) for a layer's CPU family. */
export const ARCH_KEYWORDS: Record<string, string> = {
  x86_64: "amd64",
  aarch64: "arm64",
  riscv64: "riscv",
  ppc64le: "ppc64",
};

/** A keyword for an architecture given either way (`x86_64` or `amd64`). */
export function archKeyword(arch: string): string {
  return ARCH_KEYWORDS[arch] ?? arch;
}
