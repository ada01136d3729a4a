/**
 * What is being checked: a layer's prefix (its real path, EPREFIX), where its files are here, how
 * the sandbox shows it at its real path, and what the layer should contain (from its spec, or
 * what can be learnt from the files of a bare prefix).
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { posix } from "node:path";
import { InputError } from "../errors.js";
import type { LayerMount } from "../exec/sandbox.js";
import { readElf } from "../layer/elf.js";
import { ARCHES, type Arch, archHint } from "../layer/id.js";
import { absolutePathProblem } from "../paths/rules.js";
import type { PlacedLayer } from "../spec/open.js";
import type { HostLink, ResolvedLayer } from "../spec/resolve.js";
import type { ChecksSettings, FlavorName } from "../spec/schema.js";
import { eessiHostLinks } from "./eessi-host-links.js";
import { LayerFs } from "./layer-fs.js";
import { loaderRel } from "./loader.js";
import { describeVersions, type Versions, versionApplies } from "./versions.js";

export interface LayerTarget {
  /** EPREFIX: where the layer's programs believe they are. */
  prefix: string;
  /** Where the prefix's files are on this machine (equal to `prefix` at the real path). */
  localPrefix: string;
  /** How the sandbox shows the layer at its real path; undefined when it is already there. */
  mount?: LayerMount;
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
 * A prefix directory. When its files were made for another path (its startprefix or its programs'
 * PT_INTERP say so), it is checked as that prefix, seen at its real path through the sandbox.
 */
export async function targetFromPrefix(dir: string, opts: { arch?: string } = {}): Promise<LayerTarget> {
  if (!isDirectory(dir))
    throw new InputError(`${dir}: not a directory`, {
      hint: "give a prefix directory (EPREFIX) or a layer spec (.yaml)",
    });
  const local = realpathSync(dir);
  const flavor = detectFlavor(local);
  if (!flavor)
    throw new InputError(`${dir}: not a compatibility layer`, {
      details: [
        "found neither a Portage installed-package database (var/db/pkg) nor a dpkg database (var/lib/dpkg/status)",
      ],
    });
  const declared = await declaredPrefix(local);
  const prefix = declared ?? local;
  let mount: LayerMount | undefined;
  if (prefix !== local) {
    const unsafe = absolutePathProblem(prefix, { normalised: true });
    if (unsafe)
      throw new InputError(
        `${dir}: the prefix the layer declares (${JSON.stringify(prefix)}, from its startprefix or its programs' loader) ${unsafe.message}`,
        {
          hint: "a layer's prefix is a plain absolute path such as /cvmfs/REPO/versions/V/compat/linux/ARCH",
        },
      );
    if (!prefix.startsWith("/cvmfs/"))
      throw new InputError(`${dir}: the layer was made for the prefix ${prefix}`, {
        hint: `check it at that path, or through its spec with --root`,
      });
    mount = { prefixDir: local, prefix };
  }
  const parts = prefix.split("/");
  const arch = pickTargetArch(opts.arch, parts.at(-1), local, prefix);
  const versionsAt = parts.lastIndexOf("versions");
  const compatAt = parts.lastIndexOf("compat");
  const eessiSet = flavor === "gentoo" ? eessiSetOf(prefix) : undefined;
  const version = versionsAt >= 0 ? parts[versionsAt + 1] : undefined;
  const hostLinks = eessiHostLinks(version, prefix);
  return {
    prefix,
    localPrefix: local,
    mount,
    flavor,
    arch,
    os: compatAt > 0 && parts[compatAt + 1] ? parts[compatAt + 1]! : "linux",
    version,
    hostLinks: hostLinks.links,
    hostLinksFrom: hostLinks.from,
    trustedDirs: undefined,
    sets: eessiSet ? [eessiSet.set] : [],
    setsFrom: eessiSet?.from,
    packageAtoms: [],
    settings: DEFAULT_SETTINGS,
    origin: mount ? `prefix ${prefix} (files in ${local})` : `prefix ${prefix}`,
  };
}

export function detectFlavor(local: string): FlavorName | undefined {
  if (isDirectory(posix.join(local, "var/db/pkg")) && existsSync(posix.join(local, "etc/portage")))
    return "gentoo";
  if (existsSync(posix.join(local, "var/lib/dpkg/status"))) return "debian";
  return undefined;
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

function pickTargetArch(
  option: string | undefined,
  lastComponent: string | undefined,
  local: string,
  prefix: string,
): Arch {
  const known = (a: string | undefined): a is Arch =>
    a !== undefined && (ARCHES as readonly string[]).includes(a);
  if (option !== undefined) {
    if (!known(option)) {
      const meant = archHint(option);
      throw new InputError(`--arch ${option}: not an architecture (expected one of ${ARCHES.join(", ")})`, {
        hint: meant ? `did you mean ${meant}?` : undefined,
      });
    }
    return option;
  }
  if (known(lastComponent)) return lastComponent;
  for (const a of ARCHES) {
    const fs = new LayerFs({ prefix, localPrefix: local });
    if (fs.exists(posix.join(prefix, loaderRel(a)))) return a;
  }
  throw new InputError(`${local}: cannot tell the layer's architecture`, { hint: "give it with --arch" });
}

function isDirectory(p: string): boolean {
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
