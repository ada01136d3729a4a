/** What the checks expect of a relocated Debian layer when the spec does not say (FlavorModule.checkDefaults). */
import type { Arch } from "../../layer/id.js";
import type { ResolvedLayer } from "../../spec/resolve.js";

/** Tools of a Debian layer: the essential ones, plus those of the spec's packages. */
export function debianTools(packages: readonly string[] | undefined): string[] {
  const byPackage: Record<string, string> = {
    make: "make",
    patch: "patch",
    python3: "python3",
    "xz-utils": "xz",
    file: "file",
    patchelf: "patchelf",
  };
  const tools = ["bash", "tar", "perl"];
  for (const p of packages ?? []) if (Object.hasOwn(byPackage, p)) tools.push(byPackage[p]!);
  return [...new Set(tools)];
}

/** Debian's multiarch triplet, for the default library dirs of a relocated Debian loader. */
const TRIPLETS: Record<Arch, string> = {
  x86_64: "x86_64-linux-gnu",
  aarch64: "aarch64-linux-gnu",
  riscv64: "riscv64-linux-gnu",
  ppc64le: "powerpc64le-linux-gnu",
};

export const checkDefaults = {
  requiredTools: (_version: string | undefined, layer: ResolvedLayer | undefined) =>
    debianTools(layer?.spec.debian?.packages),
  /** Debian's loader is built for the multiarch dirs at the root (relocation does not change them). */
  loaderDirs: (_prefix: string, arch: Arch) => [
    `/lib/${TRIPLETS[arch]}`,
    `/usr/lib/${TRIPLETS[arch]}`,
    "/lib",
    "/usr/lib",
  ],
};
