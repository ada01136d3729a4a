/** What the checks expect of a Gentoo Prefix when the spec does not say (FlavorModule.checkDefaults). */
import { posix } from "node:path";
import { ALL_VERSIONS, type Versions, versionApplies } from "../../checks/versions.js";

/** Tools EESSI requires from a Gentoo layer (ToolsAvailableTest), each with the versions it is required on. */
export const GENTOO_TOOLS: readonly { tool: string; versions: Versions }[] = [
  { tool: "archspec", versions: ALL_VERSIONS },
  { tool: "emerge", versions: ALL_VERSIONS },
  { tool: "equery", versions: ALL_VERSIONS },
  { tool: "ld.bfd", versions: ALL_VERSIONS },
  { tool: "make", versions: ALL_VERSIONS },
  { tool: "patch", versions: ALL_VERSIONS },
  // binutils' gold linker: built (USE=gold) only in 2023.06.
  { tool: "ld.gold", versions: { only: ["2023.06"] } },
  { tool: "patchelf", versions: { except: ["2021.03"] } },
];

/** The tools a Gentoo layer of `version` must have. */
export function gentooTools(version: string | undefined): string[] {
  return GENTOO_TOOLS.filter((t) => versionApplies(t.versions, version)).map((t) => t.tool);
}

export const checkDefaults = {
  requiredTools: (version: string | undefined) => gentooTools(version),
  /** The prefix's glibc searches its lib64 dirs, then the trusted dirs it was built with. */
  loaderDirs: (prefix: string, _arch: unknown, trustedDirs: readonly string[]) => [
    posix.join(prefix, "lib64"),
    posix.join(prefix, "usr/lib64"),
    ...trustedDirs,
  ],
};
