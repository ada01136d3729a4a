/** What the rest of compat asks the gentoo flavor about its layers (FlavorModule in ../types.ts). */
import type { Distro } from "../../sbom/purl.js";

/** Portage's vardb (`var/db/pkg`). */
export const packageDatabase = "vardb" as const;

/** The GLSAs, then gentoo.git's security commits (src/security/glsa, src/security/gentoo-git). */
export const advisorySources = ["glsa", "gentoo-git"] as const;

/** A Gentoo Prefix is Gentoo, with or without an os-release saying so. */
export function sbomDistro(): Distro {
  return { id: "gentoo" };
}

/** Portage (emerge, equery, sets, the gentoo repository), a glibc with user-defined trusted dirs, its own locale list. */
export const capabilities = ["portage", "glibc-trusted-dirs", "locale-list"] as const;
