/** What a debian layer's plan (flavors/plan.ts) has of its own: the packages apt installs. */
import type { FlavorPlanPart } from "../plan.js";
import { DEBIAN_STAGES } from "./stages.js";

export const planPart: FlavorPlanPart = {
  stages: DEBIAN_STAGES,
  files: () => [],
  warnings: () => [],
  setSources: () => [],
  packages: (layer) => [...(layer.spec.debian?.packages ?? [])],
  portageLinks: () => [],
};
