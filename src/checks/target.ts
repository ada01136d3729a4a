/**
 * What is being checked: a layer's prefix (its real path, EPREFIX), where its files are here, how
 * the sandbox shows it at its real path, and what the layer should contain (from its spec, or
 * what can be learnt from the files of a bare prefix).
 */
import { readFileSync, statSync } from "node:fs";
import { posix } from "node:path";
import { InputError } from "../errors.js";
import type { LayerMount } from "../exec/sandbox.js";
import { readElf } from "../layer/elf.js";
import { ARCHES, type Arch } from "../layer/id.js";
import type { PlacedLayer } from "../spec/open.js";
import type { HostLink, ResolvedLayer } from "../spec/resolve.js";
import type { ChecksSettings, FlavorName } from "../spec/schema.js";
import { loaderRel } from "./loader.js";
import { describeVersions, type Versions, versionApplies } from "./versions.js";

export interface LayerTarget {
  /** EPREFIX: where the layer's programs believe they are. */
  prefix: string;
  /** Where the prefix's files are on this machine (equal to `prefix` at the real path). */
  localPrefix: string;
  /** How the sandbox shows the layer at its real path; undefined when it is already there. */
  mount?: LayerMount;
  /** A build root (directory) the sandbox uses as `/` for the layer's commands; undefined: the host's. */
  buildRoot?: string;
  flavor: FlavorName;
  arch: Arch;
  os: string;
  version?: string;
  /** The resolved spec, when checked from one. */
  layer?: ResolvedLayer;
  /** Host links the layer is meant to have (from the spec, or EESSI's list for a bare prefix). */
  hostLinks: HostLink[];
  /** Where `hostLinks` comes from when no spec gave it (a bare prefix), for the evidence. */
  hostLinksFrom?: string;
  /** glibc user-defined trusted dirs, in order; undefined when unknown (bare prefix). */
  trustedDirs?: string[];
  /** Package sets that must be defined and installed (gentoo). */
  sets: string[];
  /** How `sets` was learnt when no spec gave it (a bare prefix), for the evidence. */
  setsFrom?: string;
  /** Atoms that must be installed besides the sets (gentoo). */
  packageAtoms: string[];
  settings: ChecksSettings;
  /** How the target was found, for the report. */
  origin: string;
}

export const DEFAULT_SETTINGS: ChecksSettings = { skip: [], locale: "en_US.utf8" };

/**
 * The EESSI versions whose layers are built from the set `eessi-<version>-<os>-<arch>` (the role's
 * default `package_sets`, which EessiSetTest checks on these versions only; 2026.06 has no set).
 */
export const EESSI_SET_VERSIONS: Versions = { only: ["2023.06", "2025.06"] };

/**
 * The package set of a bare EESSI prefix (`…/versions/<version>/compat/<os>/<arch>`), by EESSI's
 * naming convention, when its version is one built from that set.
 */
export function eessiSetOf(prefix: string): { set: string; from: string } | undefined {
  const parts = prefix.split("/");
  const at = parts.lastIndexOf("versions");
  const [version, compat, os, arch] = parts.slice(at + 1);
  if (at < 0 || compat !== "compat" || !version || !os || !arch || parts.length !== at + 5) return undefined;
  if (!versionApplies(EESSI_SET_VERSIONS, version)) return undefined;
  return {
    set: `eessi-${version}-${os}-${arch}`,
    from: `no spec given: the set named by EESSI's convention eessi-<version>-<os>-<arch> from the prefix path (EESSI builds ${describeVersions(EESSI_SET_VERSIONS)} from it)`,
  };
}

/** Why a bare prefix's sets are not known (it is not an EESSI prefix of a version built from a set). */
export const SETS_NOT_KNOWN = `no spec given: the layer's sets are not known (EESSI's set name is derived only for a prefix …/versions/<version>/compat/<os>/<arch> of ${describeVersions(EESSI_SET_VERSIONS)})`;

/** The layer of a spec, in a local repository root (checked through the sandbox). */
export function targetFromSpec(
  { layer, root, localPrefix: local }: PlacedLayer,
  rootOption?: string,
): LayerTarget {
  if (!isDirectory(local))
    throw new InputError(`no layer at ${local}`, {
      hint: `build it first: compat build <spec> --arch ${layer.arch}${rootOption ? ` --root ${rootOption}` : ""}`,
    });
  return targetFromLayer(layer, local, { root, repository: layer.repository }, `in ${root}`);
}

/** A resolved layer whose prefix's files are at `local` (shown at the real prefix by `mount`, if any). */
export function targetFromLayer(
  layer: ResolvedLayer,
  local: string,
  mount?: LayerMount,
  where = "",
): LayerTarget {
  return {
    prefix: layer.prefix,
    localPrefix: local,
    mount,
    flavor: layer.spec.flavor,
    arch: layer.arch,
    os: layer.os,
    version: layer.version,
    layer,
    hostLinks: layer.hostLinks,
    trustedDirs: layer.trustedDirs,
    sets: layer.sets,
    packageAtoms: layer.packageAtoms,
    settings: layer.spec.checks,
    origin: `layer of ${layer.stack} ${layer.version} ${layer.os}/${layer.arch}${where ? ` ${where}` : ""}`,
  };
}

/**
 * The prefix a layer's files were made for: the `EPREFIX=` assignment of its startprefix, else the
 * directory above the loader named by a program's PT_INTERP.
 */
export async function declaredPrefix(local: string): Promise<string | undefined> {
  const fromScript = eprefixAssignment(readTextSafe(posix.join(local, "startprefix")));
  if (fromScript) return fromScript;
  for (const program of ["usr/bin/bash", "bin/bash", "usr/bin/env"]) {
    const info = await readElf(posix.join(local, program)).catch(() => undefined);
    const interp = info?.interpreter;
    if (!interp) continue;
    for (const a of ARCHES) {
      const suffix = `/${loaderRel(a)}`;
      if (interp.endsWith(suffix)) return interp.slice(0, -suffix.length);
    }
  }
  return undefined;
}

/** The value of the first `EPREFIX=...` (or `export EPREFIX=...`) assignment in a shell script. */
export function eprefixAssignment(script: string | undefined): string | undefined {
  if (!script) return undefined;
  for (const raw of script.split("\n")) {
    let line = raw.trim();
    if (line.startsWith("export ")) line = line.slice(7).trim();
    if (!line.startsWith("EPREFIX=")) continue;
    let value = line.slice(8).split(/\s/)[0] ?? "";
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))
      value = value.slice(1, -1);
    if (value.startsWith("/") && !value.includes("$")) return value.replace(/\/+$/, "");
  }
  return undefined;
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readTextSafe(p: string): string | undefined {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return undefined;
  }
}
