/**
 * Which layer versions (EESSI's `YYYY.MM`) a check, or one requirement of a check, applies to.
 * Declared as data so `compat check --list` can show it and the runner can skip with the reason.
 */

/** `all`, only the listed versions, or every version but the listed ones. */
export type Versions = "all" | { only: readonly string[] } | { except: readonly string[] };

export const ALL_VERSIONS: Versions = "all";

/**
 * Whether a layer of `version` is covered. A layer whose version is not known (a bare prefix
 * outside `versions/<v>/`) is covered by `all` and by exclusions, never by an `only` list.
 */
export function versionApplies(versions: Versions, version: string | undefined): boolean {
  if (versions === "all") return true;
  if ("only" in versions) return version !== undefined && versions.only.includes(version);
  return version === undefined || !versions.except.includes(version);
}

/** For people: `all`, `2023.06 and 2025.06`, `all but 2021.03`. */
export function describeVersions(versions: Versions): string {
  if (versions === "all") return "all";
  const list = (xs: readonly string[]) =>
    xs.length <= 1 ? (xs[0] ?? "none") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`;
  return "only" in versions ? list(versions.only) : `all but ${list(versions.except)}`;
}

/** Why a check does not apply to a layer of `version` (undefined when it does). */
export function versionSkipReason(versions: Versions, version: string | undefined): string | undefined {
  if (versionApplies(versions, version)) return undefined;
  return `applies to layer versions ${describeVersions(versions)}; this layer is ${version ?? "of an unknown version"}`;
}
