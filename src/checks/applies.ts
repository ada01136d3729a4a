/**
 * Which flavors a check applies to: every flavor, or those whose layers have the capability the
 * check requires (FlavorModule.capabilities), in the registry's order.
 */
import { flavors } from "../flavors/index.js";
import type { FlavorName } from "../spec/schema.js";
import type { Check } from "./types.js";

export function checkFlavors(check: Pick<Check, "requires">): FlavorName[] {
  const needs = check.requires;
  return [...flavors.values()]
    .filter((f) => needs === undefined || f.capabilities.includes(needs))
    .map((f) => f.id);
}
