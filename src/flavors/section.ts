/**
 * A flavor's section of the layer spec (`gentoo:`, `debian:`), as each flavor folder declares it in
 * spec-section.ts. The sections are listed in flavors/sections.ts, below spec/: spec/schema.ts
 * assembles the spec's schema from them, and the flavor registry (flavors/index.ts), which is above
 * spec/, takes its ids from there.
 */
import type { z } from "zod";
import type { PathProblem } from "../paths/rules.js";

/** A check across the spec that the section's schema alone cannot make; paths from the spec's top. */
export interface SpecCheck<Spec> {
  check(spec: Spec, ctx: z.core.$RefinementCtx<Spec>): void;
  /** Run only when these fields parsed without problems (config/yaml.ts whenParsed). */
  when: PropertyKey[][];
}

export interface FlavorSpecSection<Id extends string, Key extends string, Schema extends z.ZodType, Spec> {
  /** The flavor's id: the value of the spec's `flavor`. */
  id: Id;
  /** The section's key in the spec; a spec of this flavor needs it. */
  key: Key;
  /** What the flavor is, in a word or two, for the `flavor` field's description. */
  summary: string;
  schema: Schema;
  checks: SpecCheck<Spec>[];
  /**
   * What the section gives a resolved layer for one arch (spec/resolve.ts resolveLayer), its
   * placeholders expanded through `ctx`; undefined: nothing (empty sets, trusted dirs and atoms).
   */
  resolve?(section: z.infer<Schema>, ctx: SectionResolveContext): SectionResolution;
}

/** What spec/resolve.ts gives a section's `resolve`. */
export interface SectionResolveContext {
  /** `os-arch`, e.g. `linux-x86_64`. */
  osArch: string;
  /**
   * Each template of `list` (the section's field `field`) with its placeholders expanded and the
   * result checked by `check`; problems are collected (with the field's path and `expected`) and
   * reported together by resolveLayer.
   */
  expand(
    list: readonly string[],
    field: string,
    check: (v: string) => PathProblem | undefined,
    expected: string,
  ): string[];
}

/** A section's part of a resolved layer. */
export interface SectionResolution {
  trustedDirs?: string[];
  sets?: string[];
  /** Packages to install after the arch filters, as the flavor's package manager takes them. */
  packageAtoms?: string[];
}
