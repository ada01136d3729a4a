/** What a gentoo layer's plan (flavors/plan.ts) has of its own: the Portage files, sets, atoms and links. */
import { gentooConfigFiles } from "../../gentoo/config/index.js";
import type { FlavorPlanPart } from "../plan.js";
import { planPortageLinks } from "./portage-links.js";
import { planSetSources } from "./sets.js";
import { GENTOO_STAGES } from "./stages.js";

export const planPart: FlavorPlanPart = {
  stages: GENTOO_STAGES,
  files: (layer) => gentooConfigFiles(layer),
  warnings: (layer) =>
    (layer.spec.gentoo?.overlays ?? [])
      .filter((o) => o.syncType === "git" && o.commit === undefined)
      .map(
        (o) =>
          `overlay ${o.name} has no pinned commit: the build takes the head of ${o.branch ?? "its default branch"} and is not reproducible (set gentoo.overlays[].commit)`,
      ),
  setSources: planSetSources,
  packages: (layer) => layer.packageAtoms,
  portageLinks: planPortageLinks,
};
