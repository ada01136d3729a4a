/**
 * The flavor registry: one folder per flavor (src/flavors/<id>/index.ts exports a FlavorModule),
 * mapped here by id. The ids are those of the spec sections (flavors/sections.ts, below spec/):
 * adding a flavor is adding a folder, its section's line there and its module's line here.
 */
import { InputError } from "../errors.js";
import type { FieldProblem } from "../spec/problem.js";
import type { ResolvedLayer } from "../spec/resolve.js";
import type { LayerSpec } from "../spec/schema.js";
import * as debian from "./debian/index.js";
import * as gentoo from "./gentoo/index.js";
import type { PackageDatabaseKind } from "./package-database.js";
import { type LayerPlan, planLayer, planProblems as planProblemsOf } from "./plan.js";
import { FLAVORS, type FlavorName } from "./sections.js";
import type { FlavorCapability, FlavorModule } from "./types.js";

/** Each flavor's module, by the id its spec section has (the compiler wants one for each). */
const modules: { [Id in FlavorName]: FlavorModule & { id: Id } } = { gentoo, debian };

/** The flavors by id, in the order detectFlavor tries them (the sections' order: a Gentoo Prefix first). */
export const flavors: ReadonlyMap<FlavorName, FlavorModule> = new Map(FLAVORS.map((id) => [id, modules[id]]));

/** The flavor of the layer in a prefix directory, the first whose detect() recognises it. */
export function detectFlavor(prefixDir: string): FlavorModule | undefined {
  for (const f of flavors.values()) if (f.detect(prefixDir)) return f;
  return undefined;
}

/** The flavor whose layers have the package database `kind` (a manifest's, an inventory's). */
export function flavorOfDatabase(kind: PackageDatabaseKind): FlavorModule {
  for (const f of flavors.values()) if (f.packageDatabase === kind) return f;
  throw new Error(`no flavor has the package database ${kind}`);
}

/** Whether layers of `flavor` have `capability`: what code outside flavors/ branches on, never a flavor's name. */
export function flavorHas(flavor: string, capability: FlavorCapability): boolean {
  return getFlavor(flavor).capabilities.includes(capability);
}

/** What a build of `layer` would do and write (`compat plan`), its flavor's part included. */
export function planOf(layer: ResolvedLayer): LayerPlan {
  return planLayer(layer, getFlavor(layer.spec.flavor).planPart);
}

/** The problems the plan finds for each of the spec's arches (spec loading's extra check). */
export function planProblems(spec: LayerSpec): FieldProblem[] {
  return planProblemsOf(spec, getFlavor(spec.flavor).planPart);
}

export function getFlavor(id: string): FlavorModule {
  const f = flavors.get(id as FlavorName);
  if (!f)
    throw new InputError(`unknown flavor ${id}`, { hint: `flavors are ${[...flavors.keys()].join(", ")}` });
  return f;
}

export type {
  BuildStage,
  Flavor,
  FlavorCapability,
  FlavorModule,
  FlavorUpdateRequest,
  InstalledPackage,
  StageContext,
} from "./types.js";
