/**
 * `etc/portage/repos.conf/`: the pinned Gentoo tree, one file per overlay and the eclass-overrides
 * list. The text is what EESSI's compatibility-layer role writes (install_prefix.yml for gentoo.conf,
 * templates/overlay.conf.j2 for overlays, add_overlay.yml for eclass-overrides.conf), so a layer
 * built by compat carries the same Portage configuration as one built by the role.
 */
import type { Overlay } from "../../spec/schema.js";

/** The Gentoo tree: git, never auto-synced (it is moved only by changing the pinned commit). */
export function renderGentooReposConf(prefix: string, url: string): string {
  return [
    "[DEFAULT]",
    "main-repo = gentoo",
    "sync-git-pull-extra-opts = --quiet",
    "",
    "[gentoo]",
    "priority  = 1",
    `location  = ${prefix}/var/db/repos/gentoo`,
    `sync-uri  = ${url}`,
    "sync-type = git",
    "auto-sync = no",
    "clone-depth = 1",
    "",
  ].join("\n");
}

/**
 * One overlay's repos.conf file. An explicit `autoSync` is written the way the role's Jinja
 * template prints a YAML boolean (`True`/`False`); Portage lower-cases the value, so `False`
 * means no. Without it: `no` for git overlays (they are pinned), `yes` otherwise.
 */
export function renderOverlayReposConf(overlay: Omit<Overlay, "portageConfig">, prefix: string): string {
  const lines = [
    "# Ansible managed",
    `[${overlay.name}]`,
    `location = ${prefix}/var/db/repos/${overlay.name}`,
    `sync-type = ${overlay.syncType}`,
    `sync-uri = ${overlay.url}`,
  ];
  if (overlay.branch !== undefined) lines.push(`sync-git-clone-extra-opts = --branch ${overlay.branch}`);
  if (overlay.autoSync !== undefined) lines.push(`auto-sync = ${overlay.autoSync ? "True" : "False"}`);
  else lines.push(`auto-sync = ${overlay.syncType === "git" ? "no" : "yes"}`);
  return `${lines.join("\n")}\n`;
}

/** `[DEFAULT] eclass-overrides = …`; undefined when no overlay overrides eclasses. */
export function renderEclassOverridesConf(
  overlays: readonly Omit<Overlay, "portageConfig">[],
): string | undefined {
  const names = overlays.filter((o) => o.eclassOverrides).map((o) => o.name);
  if (names.length === 0) return undefined;
  return `[DEFAULT]\neclass-overrides = ${names.join(" ")}\n`;
}
