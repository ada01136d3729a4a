/**
 * The gentoo section of a spec imported from EESSI's compatibility_layer role (`compat
 * import-ansible`, src/spec/ansible/import.ts): the Gentoo repository, overlays, bootstrap, sets,
 * packages and Portage files of the role's variables.
 */
import type { PathKey, RoleVariables } from "../../spec/ansible/role.js";
import { gentooSchema, portageEntryWriters } from "./spec-section.js";

const OVERLAY_KEYS = ["name", "source", "url", "branch", "commit", "eclass-overrides", "autosync"];
const PACKAGE_KEYS = ["name", "version", "overlay", "include_on", "exclude_on"];
/** What the EESSI overlay keeps in its etc/portage/ besides sets/ (reference/compat-layer.md §6.1). */
const EESSI_OVERLAY_PORTAGE_ENTRIES = ["env", "package.env", "package.accept_keywords", "profile"];

/** The spec's `gentoo:` section of the role's variables; `prefix` is the spec's prefix template. */
export function importSection(
  role: RoleVariables,
  prefix: string,
  version: string | undefined,
): Record<string, unknown> {
  const gentoo: Record<string, unknown> = {};
  gentoo.repository = gentooRepository(role);
  gentoo.overlays = overlays(role);
  const requiredSpace = role.str(["prefix_required_space"], "value", [
    "gentoo",
    "bootstrap",
    "requiredSpace",
  ]);
  gentoo.bootstrap = requiredSpace === undefined ? {} : { requiredSpace };
  role.comment(
    ["gentoo", "bootstrap"],
    ' bootstrap-prefix.sh: Gentoo\'s by default; EESSI runs its own copy (prefix_custom_bootstrap_script),\n which answers no to "use stable Prefix?": set script.path and script.sha256 to use that one',
  );

  gentoo.sets = role.strings(["package_sets"], "template", ["gentoo", "sets"]);
  role.comment(["gentoo", "sets"], " package_sets");
  if ((gentoo.sets as string[]).length > 0)
    role.comment(
      ["gentoo", "sets"],
      " EESSI's sets are files in the eessi overlay's etc/portage/sets/: the overlays stage links them into place",
    );
  gentoo.packages = packages(role);
  gentoo.removePackages = role.strings(["prefix_remove_packages"], "value", ["gentoo", "removePackages"]);
  role.comment(
    ["gentoo", "removePackages"],
    " prefix_remove_packages: build-only packages removed at the end",
  );
  gentoo.trustedDirs = role
    .strings(["prefix_user_defined_trusted_dirs"], "template", ["gentoo", "trustedDirs"])
    .map((d) => role.underPrefix(d, prefix));
  role.comment(
    ["gentoo", "trustedDirs"],
    " prefix_user_defined_trusted_dirs: glibc user-defined-trusted-dirs",
  );

  gentoo.makeConf = role.fileMap("prefix_make_conf_files", ["gentoo", "makeConf"]);
  gentoo.packageEnvFiles = role.fileMap("prefix_package_env_files", ["gentoo", "packageEnvFiles"]);
  const single: Array<[string, string]> = [
    ["prefix_bootstrap_use_flags", "packageUse"],
    ["prefix_mask_packages", "packageMask"],
    ["prefix_unmask_packages", "packageUnmask"],
    ["prefix_accept_keywords", "packageAcceptKeywords"],
    ["prefix_profile_package_use_mask", "profilePackageUseMask"],
  ];
  for (const [variable, field] of single) {
    const content = role.str([variable], "content", ["gentoo", field]);
    if (content === undefined || content === "") continue;
    gentoo[field] = content;
    role.comment(["gentoo", field], ` ${variable}`);
  }
  if (version !== undefined) overlayPortageConfig(role, gentoo, version);
  return gentoo;
}

/** The section's lists written in flow style (`[a, b]`), as paths inside the spec. */
export function flowPaths(section: Record<string, unknown>): PathKey[][] {
  const packages = Array.isArray(section.packages) ? section.packages : [];
  return [["gentoo", "sets"], ...packages.map((_, i): PathKey[] => ["gentoo", "packages", i])];
}

function gentooRepository(role: RoleVariables): Record<string, unknown> {
  const repo: Record<string, unknown> = {};
  const url = role.str(["gentoo_git_repo"], "value", ["gentoo", "repository", "url"]);
  const branch = role.str(["gentoo_git_branch"], "value", ["gentoo", "repository", "branch"]);
  const commit = role.str(["gentoo_git_commit"], "value", ["gentoo", "repository", "commit"]);
  if (url !== undefined) repo.url = url;
  if (branch !== undefined) repo.branch = branch;
  if (commit === undefined) {
    if (!role.has("gentoo_git_commit"))
      role.missing(
        "gentoo_git_commit",
        "not set in the defaults or the vars file: the Gentoo tree must be pinned to a commit",
      );
  } else repo.commit = commit;
  role.comment(["gentoo", "repository"], role.sourceComment(["gentoo_git_commit"]));
  return repo;
}

function overlays(role: RoleVariables): Record<string, unknown>[] {
  role.comment(["gentoo", "overlays"], " custom_overlays");
  return role.mappings("custom_overlays", ["gentoo", "overlays"], OVERLAY_KEYS, (path, at) => {
    const overlay = role.fields(
      path,
      at,
      [
        ["name", "name"],
        ["url", "url"],
        ["source", "syncType"],
        ["branch", "branch"],
        ["commit", "commit"],
      ],
      [
        ["eclass-overrides", "eclassOverrides"],
        ["autosync", "autoSync"],
      ],
    );
    if ((overlay.syncType ?? "git") === "git" && overlay.commit === undefined) {
      role.warnAt(
        path,
        `overlay ${String(overlay.name)} has no pinned commit: the build takes the head of ${overlay.branch === undefined ? "its default branch" : String(overlay.branch)} and is not reproducible (add commit: to the overlay)`,
      );
      role.comment(at, " not pinned: add `commit:` for a reproducible build");
    }
    return overlay;
  });
}

/**
 * Before 2026.06 the role linked every entry of each overlay's etc/portage/ into the prefix
 * (tasks/add_overlay.yml until commit 11fe497), and the 2023.06 and 2025.06 layers got the EESSI
 * overlay's env/, package.env, package.accept_keywords, profile/ and sets/ that way
 * (reference/compat-layer.md §2.6, §6.1). The vars files now write env/ and package.env, the
 * defaults profile/, and the overlays stage links the sets one by one: the EESSI overlay's entries
 * the spec does not write are linked (package.accept_keywords: rich and lmod ~amd64).
 */
function overlayPortageConfig(role: RoleVariables, gentoo: Record<string, unknown>, version: string): void {
  const [year, month] = version.split(".").map(Number);
  if (year === undefined || month === undefined || year > 2026 || (year === 2026 && month >= 6)) return;
  const parsed = gentooSchema.safeParse(gentoo);
  if (!parsed.success) return; // the spec's own validation reports it
  const writers = portageEntryWriters(parsed.data);
  const entries = EESSI_OVERLAY_PORTAGE_ENTRIES.filter((e) => !writers.has(e));
  (gentoo.overlays as Record<string, unknown>[]).forEach((overlay, i) => {
    if (overlay.name !== "eessi" || entries.length === 0) return;
    overlay.portageConfig = entries;
    role.comment(
      ["gentoo", "overlays", i, "portageConfig"],
      ` before 2026.06 the role linked every entry of this overlay's etc/portage/ into the prefix;\n these are the ones this spec does not write (the sets are linked one by one)`,
    );
  });
}

function packages(role: RoleVariables): Record<string, unknown>[] {
  role.comment(["gentoo", "packages"], " prefix_packages: installed after the sets");
  return role.mappings("prefix_packages", ["gentoo", "packages"], PACKAGE_KEYS, (path, at, item) => {
    const pkg = role.fields(path, at, [
      ["name", "name"],
      ["version", "version"],
      ["overlay", "overlay"],
    ]);
    for (const [key, field] of [
      ["include_on", "includeOn"],
      ["exclude_on", "excludeOn"],
    ] as const) {
      if (item[key] !== undefined) pkg[field] = role.strings([...path, key], "value", [...at, field]);
    }
    return pkg;
  });
}
