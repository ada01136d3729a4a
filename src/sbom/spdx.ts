/**
 * SPDX 2.3 JSON (https://spdx.github.io/spdx-spec/v2.3/): the layer as the described package, each
 * installed package as a package with its purl as a PACKAGE-MANAGER external reference, and
 * `CONTAINS` relationships. Licences and download locations are NOASSERTION (the package
 * databases do not say them in SPDX terms). The namespace holds a name-based UUID of the content
 * and `created` is the build time, so the same layer gives the same bytes.
 */

import type { SbomSubject } from "./model.js";
import { uuidV5 } from "./uuid.js";

const NOASSERTION = "NOASSERTION";

/** An SPDX element id from free text: letters, digits, `.` and `-` only. */
const spdxId = (text: string) => `SPDXRef-${text.replace(/[^A-Za-z0-9.-]+/g, "-")}`;

export function spdx(s: SbomSubject, tool: { name: string; version: string }): Record<string, unknown> {
  const uuid = uuidV5(
    `compat-sbom:spdx:${s.name}:${s.sha256 ?? ""}:${s.buildTime}:${s.packages.map((p) => p.purl).join(" ")}`,
  );
  const layerId = spdxId(`Layer-${s.name}`);
  const used = new Set<string>([layerId]);
  const packages: Record<string, unknown>[] = [
    {
      SPDXID: layerId,
      name: s.name,
      ...(s.version ? { versionInfo: s.version } : {}),
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      ...(s.sha256 ? { checksums: [{ algorithm: "SHA256", checksumValue: s.sha256 }] } : {}),
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      primaryPackagePurpose: "OPERATING_SYSTEM",
      comment: `compat layer for ${s.arch}; packages from its ${s.database} database${s.distro?.prettyName ? ` (${s.distro.prettyName})` : ""}`,
    },
  ];
  const relationships: Record<string, unknown>[] = [
    { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: layerId },
  ];
  for (const p of s.packages) {
    let id = spdxId(`Package-${s.database}-${p.name}-${p.version}`);
    for (let n = 2; used.has(id); n++) id = spdxId(`Package-${s.database}-${p.name}-${p.version}-${n}`);
    used.add(id);
    const source = p.properties["compat:package:source"];
    packages.push({
      SPDXID: id,
      name: p.name,
      versionInfo: p.version,
      downloadLocation: NOASSERTION,
      filesAnalyzed: false,
      licenseConcluded: NOASSERTION,
      licenseDeclared: NOASSERTION,
      copyrightText: NOASSERTION,
      ...(source ? { sourceInfo: `built package from: ${source}` } : {}),
      primaryPackagePurpose: "LIBRARY",
      externalRefs: [
        { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: p.purl },
      ],
    });
    relationships.push({ spdxElementId: layerId, relationshipType: "CONTAINS", relatedSpdxElement: id });
  }
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: s.name,
    documentNamespace: `https://spdx.org/spdxdocs/compat/${encodeURIComponent(s.name)}-${uuid}`,
    creationInfo: {
      created: new Date(s.buildTime * 1000).toISOString().replace(/\.000Z$/, "Z"),
      creators: [`Tool: ${tool.name}-${tool.version}`],
    },
    documentDescribes: [layerId],
    packages,
    relationships,
  };
}
