/**
 * Package URLs as scanners expect them (Grype, Trivy and Dependency-Track match on these):
 * - Debian, as Syft writes them: `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12&upstream=SRC`
 *   (`upstream` names the source package, with `@VERSION` when the source's version differs);
 * - Gentoo, as Syft's Portage cataloger writes them (syft/pkg/cataloger/gentoo/purl.go): the type
 *   `ebuild` (the purl-spec proposal for Portage) with the whole `category/name` as the name,
 *   `pkg:ebuild/dev-libs%2Fopenssl@3.0.15-r1`.
 * Encoding and qualifier order (sorted) are packageurl-js's, the purl spec's reference library.
 */
import { PackageURL } from "packageurl-js";

export interface Distro {
  /** os-release ID, e.g. `debian`, `gentoo`. */
  id: string;
  /** os-release VERSION_ID, e.g. `12`; absent for rolling releases. */
  versionId?: string;
  prettyName?: string;
}

export function distroQualifier(d: Distro | undefined): string | undefined {
  if (!d) return undefined;
  return d.versionId ? `${d.id}-${d.versionId}` : d.id;
}

export function debPurl(
  p: { name: string; version: string; architecture: string; source: string; sourceVersion: string },
  distro: Distro | undefined,
): string {
  const qualifiers: Record<string, string> = { arch: p.architecture };
  const d = distroQualifier(distro);
  if (d) qualifiers.distro = d;
  if (p.source !== p.name || p.sourceVersion !== p.version)
    qualifiers.upstream = p.sourceVersion !== p.version ? `${p.source}@${p.sourceVersion}` : p.source;
  return new PackageURL("deb", distro?.id ?? "debian", p.name, p.version, qualifiers, undefined).toString();
}

export function ebuildPurl(cp: string, version: string): string {
  return new PackageURL("ebuild", undefined, cp, version, undefined, undefined).toString();
}
