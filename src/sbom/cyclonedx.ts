/**
 * CycloneDX 1.6 JSON (https://cyclonedx.org/docs/1.6/json/): the layer as `metadata.component`
 * (type `platform`, with the artifact's sha256), its distribution as an `operating-system`
 * component (Grype reads the distro from it), each installed package as a `library` component with
 * its purl, and one dependency entry saying the layer holds them all. The serial number is a
 * name-based UUID (v5) of the content and the timestamp the build time: the same layer gives the
 * same bytes.
 */

import type { SbomSubject } from "./model.js";
import { uuidV5 } from "./uuid.js";

export const CYCLONEDX_SPEC = "1.6";

export function cycloneDx(s: SbomSubject, tool: { name: string; version: string }): Record<string, unknown> {
  const layerRef = `layer:${s.name}`;
  const osRef = s.distro
    ? `os:${s.distro.id}${s.distro.versionId ? `-${s.distro.versionId}` : ""}`
    : undefined;
  const props = (o: Record<string, string>) => Object.entries(o).map(([name, value]) => ({ name, value }));
  const components: Record<string, unknown>[] = [];
  if (s.distro && osRef)
    components.push({
      type: "operating-system",
      "bom-ref": osRef,
      name: s.distro.id,
      ...(s.distro.versionId ? { version: s.distro.versionId } : {}),
      ...(s.distro.prettyName ? { description: s.distro.prettyName } : {}),
    });
  for (const p of s.packages)
    components.push({
      type: "library",
      "bom-ref": p.purl,
      name: p.name,
      version: p.version,
      purl: p.purl,
      ...(Object.keys(p.properties).length ? { properties: props(p.properties) } : {}),
    });
  return {
    $schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
    bomFormat: "CycloneDX",
    specVersion: CYCLONEDX_SPEC,
    serialNumber: `urn:uuid:${uuidV5(`compat-sbom:cyclonedx:${s.name}:${s.sha256 ?? ""}:${s.buildTime}:${s.packages.map((p) => p.purl).join(" ")}`)}`,
    version: 1,
    metadata: {
      timestamp: new Date(s.buildTime * 1000).toISOString().replace(/\.000Z$/, "Z"),
      tools: { components: [{ type: "application", name: tool.name, version: tool.version }] },
      component: {
        type: "platform",
        "bom-ref": layerRef,
        name: s.name,
        ...(s.version ? { version: s.version } : {}),
        ...(s.sha256 ? { hashes: [{ alg: "SHA-256", content: s.sha256 }] } : {}),
        properties: props({
          "compat:layer:arch": s.arch,
          "compat:layer:package-database": s.database,
        }),
      },
    },
    components,
    dependencies: [
      { ref: layerRef, dependsOn: [...(osRef ? [osRef] : []), ...s.packages.map((p) => p.purl)] },
    ],
  };
}
