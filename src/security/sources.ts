/**
 * The registry of advisory sources by id. Adding a source (OSV, NVD) means adding its folder under
 * src/security/, a line here, and its id in the advisorySources of the flavors whose layers it judges.
 */
import { flavors, getFlavor } from "../flavors/index.js";
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

/** Every source that judges packages of `ecosystem`, in the order its flavor names them. */
export function sourcesFor(ecosystem: Ecosystem): AdvisorySourceId[] {
  return getFlavor(ecosystem).advisorySources.filter(isSourceId);
}

/** The flavors whose layers source `id` judges. */
export function ecosystemsOf(id: AdvisorySourceId): Ecosystem[] {
  return [...flavors.values()].filter((f) => f.advisorySources.includes(id)).map((f) => f.id);
}
