/**
 * The registry of advisory sources by id, each declaring the ecosystem it judges. Adding a
 * source (OSV, NVD) means adding its folder under src/security/ and a line here.
 */
import { debianSecuritySource } from "./debian-security/index.js";
import { gentooGitSource } from "./gentoo-git/index.js";
import { glsaSource } from "./glsa/index.js";
import type { Ecosystem } from "./source.js";

export const advisorySources = {
  glsa: glsaSource,
  "gentoo-git": gentooGitSource,
  "debian-security": debianSecuritySource,
} as const;

export type AdvisorySourceId = keyof typeof advisorySources;

export const SOURCE_IDS = Object.keys(advisorySources) as AdvisorySourceId[];

export const isSourceId = (id: string): id is AdvisorySourceId => Object.hasOwn(advisorySources, id);

/** Every source that judges packages of `ecosystem`, in registry order. */
export function sourcesFor(ecosystem: Ecosystem): AdvisorySourceId[] {
  return SOURCE_IDS.filter((id) => advisorySources[id].ecosystem === ecosystem);
}
