/**
 * The flavors' spec sections, one line per flavor: the list of flavor ids the rest of the code
 * takes (FLAVORS, FlavorName) and what spec/schema.ts assembles the layer spec from. It sits below
 * spec/ (the sections import only spec/fields.ts and the distro libraries), while the flavor
 * registry (flavors/index.ts), whose flavors use the spec, sits above it: a flavor is one folder plus
 * its line here and in index.ts (the compiler asks for the second when the first is there).
 */
import { specSection as debian } from "./debian/spec-section.js";
import { specSection as gentoo } from "./gentoo/spec-section.js";

// the sections' types and helpers the rest of the code uses (through spec/schema.ts)
export { type DebianSettings, debianSuiteFor, debianSuiteOf } from "./debian/spec-section.js";
export {
  type GentooPackage,
  type GentooSettings,
  type Overlay,
  TRUSTED_DIRS_ENV_FILE,
} from "./gentoo/spec-section.js";

/** In the order detectFlavor tries the flavors (a Gentoo Prefix first). */
export const SPEC_SECTIONS = [gentoo, debian] as const;

export type SpecSection = (typeof SPEC_SECTIONS)[number];
export type FlavorName = SpecSection["id"];
export const FLAVORS = SPEC_SECTIONS.map((s) => s.id) as unknown as readonly [FlavorName, ...FlavorName[]];

/** The sections as optional fields of the spec, by key. */
export type SectionFields = { [S in SpecSection as S["key"]]: ReturnType<S["schema"]["optional"]> };
export function sectionFields(): SectionFields {
  return Object.fromEntries(SPEC_SECTIONS.map((s) => [s.key, s.schema.optional()])) as SectionFields;
}

/** `gentoo` (Gentoo Prefix) or `debian` (relocated): the flavors for the `flavor` field's description. */
export function flavorChoices(): string {
  const each = SPEC_SECTIONS.map((s) => `\`${s.id}\` (${s.summary})`);
  return each.length < 2 ? each.join("") : `${each.slice(0, -1).join(", ")} or ${each.at(-1)}`;
}
