/**
 * Host links: `$EPREFIX/etc/passwd -> /etc/passwd` and the like (DESIGN.md "Host and variant
 * symlinks"). Made in two phases, as EESSI's role does: plain links during the build (a variant
 * link `$(VAR:-default)` only resolves under a CVMFS client, and a literal one breaks DNS and
 * users inside the build), then their final form at the end (the variant when enabled).
 *
 * Like the role's create_host_symlinks.yml, whatever is at a link's path and is not a symlink
 * (a file, or a directory such as var/tmp) is removed first; an existing link is replaced.
 *
 * A parent directory that is itself a link into the prefix (lib64 -> usr/lib64, or a relocated
 * absolute link to the prefix path) is followed the way it resolves for users of the layer
 * (src/paths/inside.ts, with the prefix directory seen at the prefix path). A link's path that is
 * not below EPREFIX, or a parent that leads out of the prefix (an earlier host link, `etc -> /etc`),
 * is refused before anything is removed or linked: the host's files are never touched.
 */
import { lstat, mkdir, rename, rm, symlink } from "node:fs/promises";
import { dirname } from "node:path";
import { type Confinement, resolveInside } from "../paths/inside.js";
import type { HostLink } from "../spec/resolve.js";

export type HostLinkPhase = "plain" | "final";

export interface LinkAction {
  /** The link, relative to EPREFIX. */
  path: string;
  target: string;
}

export function linkActions(links: readonly HostLink[], phase: HostLinkPhase): LinkAction[] {
  return links.map((l) => ({ path: l.path, target: phase === "plain" ? l.plain : l.final }));
}

export interface HostLinkResult {
  /** The links made, absolute under EPREFIX. */
  linked: string[];
  /** Paths where a file or directory was removed to make room for the link. */
  replaced: string[];
}

/**
 * Make the host links of a layer, in their plain or final form, in the prefix directory
 * `into.base`, which the layer's programs see at `into.mountedAt` (EPREFIX). Every link's place
 * is resolved inside the prefix before any of them is touched.
 */
export async function makeHostLinks(
  into: Confinement & { mountedAt: string },
  links: readonly HostLink[],
  phase: HostLinkPhase,
): Promise<HostLinkResult> {
  const prefix = into.mountedAt;
  const result: HostLinkResult = { linked: [], replaced: [] };
  const actions = linkActions(links, phase);
  const place = (a: LinkAction) =>
    resolveInside({ ...into, what: `host link ${a.path}` }, a.path, { followLast: false });
  for (const a of actions) place(a);
  for (const a of actions) {
    // resolved again: an earlier link of this list may have replaced a directory on the way
    const at = place(a);
    const st = await lstat(at).catch(() => undefined);
    if (st && !st.isSymbolicLink()) {
      await rm(at, { recursive: true, force: true });
      result.replaced.push(`${prefix}/${a.path}`);
    }
    await mkdir(dirname(at), { recursive: true });
    // ln -sfn: the new link replaces an old one in one rename
    const tmp = `${at}.compat-link-${process.pid}`;
    await rm(tmp, { force: true });
    await symlink(a.target, tmp);
    await rename(tmp, at);
    result.linked.push(`${prefix}/${a.path}`);
  }
  return result;
}
