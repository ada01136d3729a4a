/**
 * `compat sbom`'s core: the SBOM of a layer's prefix or of an artifact, as CycloneDX 1.6 or
 * SPDX 2.3 JSON text (stable key order, two-space indent, final newline).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cycloneDx } from "./cyclonedx.js";
import type { SbomSubject } from "./model.js";
import { spdx } from "./spdx.js";

export { artifactSubject, packedSubject, prefixSubject, type SbomSubject } from "./model.js";

export const SBOM_FORMATS = ["cyclonedx", "spdx"] as const;
export type SbomFormat = (typeof SBOM_FORMATS)[number];

/** Beside an artifact, as `compat pack` writes it: `<artifact>.cdx.json` or `<artifact>.spdx.json`. */
export function sbomPathFor(artifact: string, format: SbomFormat = "cyclonedx"): string {
  return `${artifact}.${format === "cyclonedx" ? "cdx" : "spdx"}.json`;
}

/** compat's own name and version (from package.json, so the output does not depend on how compat was started). */
export const COMPAT_TOOL = {
  name: "compat",
  version: (
    JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string }
  ).version,
};

export function renderSbom(subject: SbomSubject, format: SbomFormat): string {
  const doc = format === "cyclonedx" ? cycloneDx(subject, COMPAT_TOOL) : spdx(subject, COMPAT_TOOL);
  return `${JSON.stringify(doc, null, 2)}\n`;
}
