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

/** Gentoo's architecture keywords (profiles/arch.list, without the prefix ones). */
export const GENTOO_KEYWORDS = [
  "alpha",
  "amd64",
  "arm",
  "arm64",
  "hppa",
  "ia64",
  "loong",
  "m68k",
  "mips",
  "ppc",
  "ppc64",
  "riscv",
  "s390",
  "sparc",
  "x86",
] as const;

/** Whether `arch` is a layer CPU family or a Gentoo keyword. */
export function isKnownArch(arch: string): boolean {
  return arch in ARCH_KEYWORDS || (GENTOO_KEYWORDS as readonly string[]).includes(arch);
}
