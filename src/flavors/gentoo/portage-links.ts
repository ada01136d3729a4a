/**
 * Linking an overlay's own Portage configuration into the prefix.
 *
 * Before 2026.06, EESSI's role (tasks/add_overlay.yml, removed by commit 11fe497) listed every entry
 * of each overlay's `etc/portage/` (`ansible.builtin.find`, not recursive, files and directories)
 * and linked each into `$EPREFIX/etc/portage/` by name, so the 2023.06 and 2025.06 layers got the
 * EESSI overlay's `env/`, `package.env`, `package.accept_keywords`, `profile/` and `sets/` that way.
 * A spec names the entries it wants in `gentoo.overlays[].portageConfig`; after the overlays are
 * checked out, the overlays stage links each one with a relative link. An entry missing from the
 * checkout stops the stage before anything is linked.
 *
 *   planPortageLinks(layer)               // pure: for `compat plan`
 *   await linkPortageConfig(prefixDir, layer) // I/O: after the overlays stage's checkouts
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../errors.js";
import type { Confinement } from "../../paths/inside.js";
import type { ResolvedLayer } from "../../spec/resolve.js";
import { linkInto } from "./sets.js";

export interface PortageLink {
  overlay: string;
  /** The link, relative to EPREFIX: `etc/portage/<entry>`. */
  path: string;
  /** What it points at, relative to EPREFIX: `var/db/repos/<overlay>/etc/portage/<entry>`. */
  target: string;
}

/** The links the overlays stage makes, in the spec's order. Pure. */
export function planPortageLinks(layer: ResolvedLayer): PortageLink[] {
  return (layer.spec.gentoo?.overlays ?? []).flatMap((o) =>
    o.portageConfig.map((entry) => ({
      overlay: o.name,
      path: `etc/portage/${entry}`,
      target: `var/db/repos/${o.name}/etc/portage/${entry}`,
    })),
  );
}

/** Make the links in the prefix being built (`prefixDir`, seen at `layer.prefix`). */
export async function linkPortageConfig(into: Confinement, layer: ResolvedLayer): Promise<PortageLink[]> {
  const links = planPortageLinks(layer);
  const missing = links.filter((l) => !existsSync(join(into.base, l.target)));
  if (missing.length > 0)
    throw new InputError(
      `overlay Portage configuration not found: ${missing.map((l) => l.path.slice("etc/portage/".length)).join(", ")}`,
      {
        details: missing.map(
          (l) =>
            `overlay ${l.overlay}: no ${layer.prefix}/${l.target} in its checkout (gentoo.overlays[].portageConfig)`,
        ),
        hint: "list only entries the overlay has in its etc/portage/ at the pinned commit",
      },
    );
  for (const l of links) await linkInto(into, l.path, l.target);
  return links;
}
