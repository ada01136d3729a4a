/**
 * The registry of advisory sources by id. Adding a source (Debian's security tracker, OSV)
 * means adding its folder under src/security/ and a line here.
 */
import type { InstalledPackage } from "../gentoo/vardb.js";
import { glsaSource } from "./glsa/index.js";
import type { AdvisorySource } from "./source.js";

export const advisorySources = {
  glsa: glsaSource,
} satisfies Record<string, AdvisorySource<InstalledPackage>>;

export type AdvisorySourceId = keyof typeof advisorySources;
