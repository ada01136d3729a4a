/**
 * Portage configuration rendering for the gentoo flavor: pure functions from the layer spec to the
 * files the build writes into the prefix.
 */
import type { ResolvedLayer } from "../../spec/resolve.js";
import { type PortageFile, portageConfigFiles } from "./portage-files.js";
import { renderEclassOverridesConf, renderGentooReposConf, renderOverlayReposConf } from "./repos-conf.js";

export * from "./portage-files.js";
export * from "./repos-conf.js";

/** Every Portage-related file of a resolved gentoo layer (no locale.gen: that is flavor-independent). */
export function gentooConfigFiles(layer: ResolvedLayer): PortageFile[] {
  const gentoo = layer.spec.gentoo;
  if (!gentoo) return [];
  const files: PortageFile[] = [
    {
      path: "etc/portage/repos.conf/gentoo.conf",
      content: renderGentooReposConf(layer.prefix, gentoo.repository.url),
      from: "gentoo.repository",
    },
    // Tells bootstrap-prefix.sh's do_tree() not to unpack a snapshot over the pinned checkout.
    { path: "var/db/repos/gentoo/.unpacked", content: "", from: "gentoo.repository" },
  ];
  gentoo.overlays.forEach((overlay, i) => {
    files.push({
      path: `etc/portage/repos.conf/${overlay.name}.conf`,
      content: renderOverlayReposConf(overlay, layer.prefix),
      from: `gentoo.overlays[${i}]`,
    });
  });
  const eclassOverrides = renderEclassOverridesConf(gentoo.overlays);
  if (eclassOverrides !== undefined)
    files.push({
      path: "etc/portage/repos.conf/eclass-overrides.conf",
      content: eclassOverrides,
      from: "gentoo.overlays[].eclassOverrides",
    });
  files.push(...portageConfigFiles(gentoo, layer.trustedDirs));
  return files;
}
