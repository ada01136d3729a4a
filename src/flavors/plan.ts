/**
 * The plan of one layer for one arch: what a build would do and write, computed from the spec
 * alone (no I/O). `compat plan` prints it; the pipeline builds from it, so what the plan shows is
 * what the build writes.
 */
import { gentooConfigFiles } from "../gentoo/config/index.js";
import type { HostLink, ResolvedLayer } from "../spec/resolve.js";
import type { Arch, FlavorName } from "../spec/schema.js";
import { DEBIAN_STAGES } from "./debian/stages.js";
import { type PortageLink, planPortageLinks } from "./gentoo/portage-links.js";
import { planSetSources, type SetSource } from "./gentoo/sets.js";
import { GENTOO_STAGES } from "./gentoo/stages.js";
import type { StageInfo } from "./stage.js";

/** A file the build writes into the prefix. */
export interface PlannedFile {
  content: string;
  /** Permission bits, octal. */
  mode: string;
  /**
   * `replace`: the file is written with exactly this content. `add-lines`: the file may already
   * exist (glibc and Debian's locales ship etc/locale.gen); each line missing from it is appended.
   */
  apply: "replace" | "add-lines";
  /** The spec field(s) the content comes from. */
  from: string;
}

export interface PlannedHostLink {
  /** The link, relative to EPREFIX. */
  path: string;
  /** Target during the build, and the final one when variant symlinks are off. */
  plain: string;
  /** The CVMFS variant symlink target `$(VAR:-default)`, or null when the link has none. */
  variant: string | null;
  /** The target the finished layer has. */
  final: string;
}

export interface LayerPlan {
  repository: string;
  stack: string;
  version: string;
  os: string;
  arch: Arch;
  flavor: FlavorName;
  /** EPREFIX, e.g. /cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64 */
  prefix: string;
  stages: StageInfo[];
  /** gentoo: package sets installed first (`@name`); empty for debian. */
  sets: string[];
  /** gentoo: where Portage finds each set (one entry per set, in order); empty for debian. */
  setSources: SetSource[];
  /** gentoo: atoms after the arch filters (`=cat/pkg-ver::overlay`); debian: package names. */
  packages: string[];
  /** gentoo: build-only packages removed at the end. */
  removePackages: string[];
  /** Keyed by path relative to EPREFIX, sorted by path. */
  files: Record<string, PlannedFile>;
  /** gentoo: entries of an overlay's etc/portage/ linked into etc/portage/ (portageConfig); [] for debian. */
  portageLinks: PortageLink[];
  hostSymlinks: PlannedHostLink[];
  /** Things the build will do that the user should know about (e.g. an unpinned overlay). */
  warnings: string[];
}

export function stagesOf(flavor: FlavorName): readonly StageInfo[] {
  return flavor === "gentoo" ? GENTOO_STAGES : DEBIAN_STAGES;
}

/** `etc/locale.gen` lines; the build adds those the file does not have yet. */
export function renderLocaleGen(locales: readonly string[]): string {
  return locales.map((l) => `${l}\n`).join("");
}

export function planLayer(layer: ResolvedLayer): LayerPlan {
  const { spec } = layer;
  const files: Array<[string, PlannedFile]> = [];
  const warnings: string[] = [];
  if (spec.flavor === "gentoo") {
    for (const f of gentooConfigFiles(layer))
      files.push([f.path, { content: f.content, mode: "0644", apply: "replace", from: f.from }]);
    for (const o of spec.gentoo?.overlays ?? [])
      if (o.syncType === "git" && o.commit === undefined)
        warnings.push(
          `overlay ${o.name} has no pinned commit: the build takes the head of ${o.branch ?? "its default branch"} and is not reproducible (set gentoo.overlays[].commit)`,
        );
  }
  if (spec.locales.length > 0)
    files.push([
      "etc/locale.gen",
      { content: renderLocaleGen(spec.locales), mode: "0644", apply: "add-lines", from: "locales" },
    ]);
  files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  return {
    repository: layer.repository,
    stack: layer.stack,
    version: layer.version,
    os: layer.os,
    arch: layer.arch,
    flavor: spec.flavor,
    prefix: layer.prefix,
    stages: stagesOf(spec.flavor).map((s) => ({ id: s.id, description: s.description })),
    sets: layer.sets.map((s) => `@${s}`),
    setSources: spec.flavor === "gentoo" ? planSetSources(layer) : [],
    packages: spec.flavor === "gentoo" ? layer.packageAtoms : [...(spec.debian?.packages ?? [])],
    removePackages: [...(spec.gentoo?.removePackages ?? [])],
    files: Object.fromEntries(files),
    portageLinks: spec.flavor === "gentoo" ? planPortageLinks(layer) : [],
    hostSymlinks: layer.hostLinks.map(plannedLink),
    warnings,
  };
}

function plannedLink(l: HostLink): PlannedHostLink {
  return { path: l.path, plain: l.plain, variant: l.variant ?? null, final: l.final };
}
