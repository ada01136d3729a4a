/**
 * The `debian:` section of the layer spec: its schema (docs/spec.md is generated from the
 * descriptions here, through src/spec/schema.ts, which assembles the sections of every flavor), the
 * check of its per-arch suites against the spec's arches, and which suite an arch is built from.
 */
import { z } from "zod";
import { InputError } from "../../errors.js";
import type { Arch } from "../../layer/id.js";
import {
  sizeSchema,
  sourceDateEpochSchema,
  suiteCoverage,
  suitePerArch,
  withoutCredentials,
} from "../../spec/fields.js";
import type { FlavorSpecSection, SpecCheck } from "../section.js";

/** The flavor's id, and its section's key in the spec. */
const KEY = "debian";

export const debianSchema = z
  .strictObject({
    suite: suitePerArch.describe(
      "Debian suite (e.g. `bookworm`), or one per arch (e.g. `{x86_64: bookworm, aarch64: bookworm, riscv64: trixie}`: riscv64 is an official port from trixie on); every arch of `arches` needs one",
    ),
    mirror: withoutCredentials(z.string())
      .url()
      .optional()
      .describe(
        "Debian mirror URL, without credentials (apt's auth.conf.d has them); default: the host's apt sources",
      ),
    components: z
      .array(z.string().regex(/^[a-z-]+$/))
      .default(["main"])
      .describe("archive components"),
    variant: z
      .enum([
        "extract",
        "custom",
        "essential",
        "apt",
        "required",
        "minbase",
        "buildd",
        "important",
        "standard",
      ])
      .default("minbase")
      .describe("mmdebstrap variant"),
    packages: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, { message: "not a Debian package name" }))
      .default([])
      .describe("packages to install on top of the variant"),
    sourceDateEpoch: sourceDateEpochSchema,
    requiredSpace: sizeSchema
      .default("1 GB")
      .describe(
        "free space needed where the layer is built before bootstrapping (examples/dev.yaml peaks at about 360 MiB while it is built)",
      ),
  })
  .describe("settings of the debian flavor");

export type DebianSettings = z.infer<typeof debianSchema>;

/** The Debian suite a layer of `arch` is built from (`debian.suite`, a name or one per arch). */
export function debianSuiteOf(settings: Pick<DebianSettings, "suite">, arch: string): string | undefined {
  const { suite } = settings;
  if (typeof suite === "string") return suite;
  return Object.hasOwn(suite, arch) ? suite[arch] : undefined;
}

/** debianSuiteOf for a build: the spec's check makes every arch of `arches` name a suite. */
export function debianSuiteFor(settings: Pick<DebianSettings, "suite">, arch: Arch): string {
  const suite = debianSuiteOf(settings, arch);
  if (suite === undefined)
    throw new InputError(`debian.suite names no suite for ${arch}`, {
      hint: `add \`${arch}: <suite>\` to debian.suite`,
    });
  return suite;
}

/** A suite per arch names one for each of the spec's arches, and for no other. */
const suitePerArchCheck: SpecCheck<{ arches: readonly Arch[]; debian?: DebianSettings }> = {
  check: (spec, ctx) => suiteCoverage(spec.arches, spec.debian?.suite, [KEY, "suite"], ctx),
  when: [["arches"], [KEY, "suite"]],
};

export const specSection = {
  id: KEY,
  key: KEY,
  summary: "relocated",
  schema: debianSchema,
  checks: [suitePerArchCheck],
} satisfies FlavorSpecSection<
  typeof KEY,
  typeof KEY,
  typeof debianSchema,
  { arches: readonly Arch[]; debian?: DebianSettings }
>;
