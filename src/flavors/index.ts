/**
 * The flavor registry: one folder per flavor (src/flavors/<id>/index.ts exports a FlavorModule),
 * mapped here by id. Adding a flavor is adding a folder and a line.
 */
import { InputError } from "../errors.js";
import type { FlavorName } from "../spec/schema.js";
import * as debian from "./debian/index.js";
import * as gentoo from "./gentoo/index.js";
import type { PackageDatabaseKind } from "./installed.js";
import type { FlavorCapability, FlavorModule } from "./types.js";

/** The flavors by id, in the order detectFlavor tries them (a Gentoo Prefix first). */
export const flavors: ReadonlyMap<FlavorName, FlavorModule> = new Map<FlavorName, FlavorModule>([
  [gentoo.id, gentoo],
  [debian.id, debian],
]);

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
