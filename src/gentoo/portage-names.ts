/** Names Portage gives its own things, which a spec's names must be told apart from. */

/** The name of Portage's main repository, the Gentoo ebuild tree (`main-repo`, `repos.conf/gentoo.conf`). */
export const GENTOO_REPOSITORY = "gentoo";

/** The sets of Portage's own cnf/sets/portage.conf (Portage 3.0), which are not files. */
export const PORTAGE_SETS: readonly string[] = [
  "world",
  "profile",
  "selected",
  "selected-packages",
  "selected-sets",
  "system",
  "security",
  "installed",
  "preserved-rebuild",
  "live-rebuild",
  "deprecated-live-rebuild",
  "module-rebuild",
  "x11-module-rebuild",
  "rebuilt-binaries",
  "changed-subslot",
  "downgrade",
  "unavailable",
  "unavailable-binaries",
  "changed-deps",
  "rust-rebuild",
];
