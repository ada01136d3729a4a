/** What the rest of compat asks the debian flavor about its layers (FlavorModule in ../types.ts). */
import type { Distro } from "../../sbom/purl.js";

/** dpkg's status database (`var/lib/dpkg/status`). */
export const packageDatabase = "dpkg" as const;

/** Debian's security archive and tracker (src/security/debian-security). */
export const advisorySources = ["debian-security"] as const;

/** os-release VERSION_ID of each Debian release, for an artifact's SBOM (its build record keeps the suite). */
export const DEBIAN_VERSION_IDS: Record<string, string> = {
  buster: "10",
  bullseye: "11",
  bookworm: "12",
  trixie: "13",
  forky: "14",
};

/**
 * An artifact's distribution: Debian, in the release of the suite its build record names. A
 * prefix's is its os-release alone (undefined when it has none).
 */
export function sbomDistro(buildRecord?: Record<string, unknown>): Distro | undefined {
  if (buildRecord === undefined) return undefined;
  const suite = buildRecord.suite;
  if (typeof suite !== "string") return { id: "debian" };
  const versionId = DEBIAN_VERSION_IDS[suite];
  return { id: "debian", ...(versionId ? { versionId } : {}) };
}

/** A relocated Debian tree has no package manager to run and a stock glibc. */
export const capabilities = [] as const;
