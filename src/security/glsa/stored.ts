/**
 * What the GLSA corpus keeps of each file, shared by the corpus and the threads that parse (no
 * parser is loaded here). A parsed GLSA is kept as three JSON texts in a byte buffer: its
 * packages (all that matching reads), its summary (what a finding shows) and the rest, so an
 * audit decodes only what it touches.
 */
import { createHash } from "node:crypto";
import type { Glsa, GlsaPackage } from "../../gentoo/glsa/model.js";

/** A file's content key: the first 128 bits of its sha256. */
export const contentHash = (b: Uint8Array): string =>
  createHash("sha256").update(b).digest("hex").slice(0, 32);

/** The GLSA file name pattern; the id is between `glsa-` and `.xml`. */
export const GLSA_FILE_RE = /^glsa-(.+)\.xml$/;

/** What a finding shows of a GLSA besides its ranges. */
export interface GlsaSummary {
  title: string;
  severity: string;
  cves: string[];
}

/** Every other field of a GLSA. */
export type GlsaRest = Omit<Glsa, "packages" | keyof GlsaSummary>;

export function splitGlsa(glsa: Glsa): { packages: GlsaPackage[]; summary: GlsaSummary; rest: GlsaRest } {
  const { packages, title, severity, cves, ...rest } = glsa;
  return { packages, summary: { title, severity, cves }, rest };
}

/** The GLSA again, its fields in the model's order. */
export function joinGlsa(packages: GlsaPackage[], summary: GlsaSummary, rest: GlsaRest): Glsa {
  return {
    id: rest.id,
    title: summary.title,
    synopsis: rest.synopsis,
    productType: rest.productType,
    product: rest.product,
    announced: rest.announced,
    revised: rest.revised,
    revisedCount: rest.revisedCount,
    bugs: rest.bugs,
    access: rest.access,
    packages,
    severity: summary.severity,
    resolution: rest.resolution,
    references: rest.references,
    cves: summary.cves,
  };
}

/**
 * Where a parsed file's parts are in the buffer that holds them: the packages' JSON from
 * `offsets[base]` to `offsets[base + 1]`, the summary's to `base + 2`, the rest's to `base + 3`.
 */
export interface PartsAt {
  offsets: readonly number[];
  base: number;
}

/** One file's parse: why glsa-check would skip it, or its package names and where its parts are. */
export type StoredParse = { error: string } | { packageNames: string[]; at: PartsAt };

export interface FileCheck {
  name: string;
  /** Content key: the first 128 bits of its sha256, plenty to tell versions of a file apart. */
  hash: string;
  /** Absent when the content hashed to the known hash: the cached parse still holds. */
  parsed?: StoredParse;
}
