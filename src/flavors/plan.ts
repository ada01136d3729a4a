/**
 * The plan of one layer for one arch: what a build would do and write, computed from the spec
 * alone (no I/O). `compat plan` prints it; the pipeline builds from it, so what the plan shows is
 * what the build writes.
 */
import type { LayerId } from "../layer/id.js";
import { safeRelative } from "../paths/rules.js";
import { type FieldProblem, SpecFieldError } from "../spec/problem.js";
import { type HostLink, type ResolvedLayer, resolveLayer } from "../spec/resolve.js";
import type { FlavorName, LayerSpec } from "../spec/schema.js";
import type { PortageLink } from "./gentoo/portage-links.js";
import type { SetSource } from "./gentoo/sets.js";
import type { StageInfo } from "./stage.js";

export type { SetSource };

/**
 * What a flavor's layers plan of their own (each flavor folder's plan-part.ts; FlavorModule.planPart):
 * the rest of the plan (locale.gen, host links, what is written where) is every flavor's.
 */
export interface FlavorPlanPart {
  /** The stages of a build, as `compat plan` lists them (the activate stage last). */
  stages: readonly StageInfo[];
  /** Files the build writes from the flavor's spec section. */
  files(layer: ResolvedLayer): Array<{ path: string; content: string; from: string }>;
  warnings(layer: ResolvedLayer): string[];
  setSources(layer: ResolvedLayer): SetSource[];
  /** What the build installs, as the flavor's package manager takes it (atoms, package names). */
  packages(layer: ResolvedLayer): string[];
  portageLinks(layer: ResolvedLayer): PortageLink[];
}

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

/** What a build of the layer `{stack, version, os, arch}` would do (`compat plan`). */
export interface LayerPlan extends LayerId {
  repository: string;
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

/** `etc/locale.gen` lines; the build adds those the file does not have yet. */
export function renderLocaleGen(locales: readonly string[]): string {
  return locales.map((l) => `${l}\n`).join("");
}

/** The build record's directory, relative to EPREFIX (layer/reprod.ts; written by the record stage). */
const RECORD_DIR = "reprod";

/**
 * Every path the plan writes or links below EPREFIX, each proven to be a relative path without
 * `..` (src/paths/rules.ts), with what writes it.
 */
export function plannedPaths(
  plan: Omit<LayerPlan, "warnings">,
  overlays: readonly string[] = [],
): Array<{ path: string; by: string }> {
  const out: Array<{ path: string; by: string }> = [
    ...overlays.map((o) => ({ path: `var/db/repos/${o}`, by: `the checkout of overlay ${o}` })),
    { path: "startprefix", by: "the layer's startprefix" },
    ...Object.entries(plan.files).map(([path, f]) => ({ path, by: f.from })),
    ...plan.portageLinks.map((l) => ({ path: l.path, by: `gentoo.overlays (${l.overlay}).portageConfig` })),
    ...plan.setSources.flatMap((s) =>
      s.from === "file" ? [{ path: s.path, by: `gentoo.sets (${s.set})` }] : [],
    ),
    { path: RECORD_DIR, by: "the build record" },
  ];
  for (const p of out) safeRelative(p.path, `a path the plan writes (${p.by})`);
  return out;
}

/**
 * A host link at or above a path the build writes would send that write to the host, or be
 * removed by it: each such link is a problem of its hostSymlinks entry.
 */
function hostLinkConflicts(plan: Omit<LayerPlan, "warnings">, overlays: readonly string[]): FieldProblem[] {
  const written = plannedPaths(plan, overlays);
  const problems: FieldProblem[] = [];
  plan.hostSymlinks.forEach((l, i) => {
    const hit = written.find((w) => w.path === l.path || w.path.startsWith(`${l.path}/`));
    if (hit)
      problems.push({
        path: ["hostSymlinks", i],
        message: `${l.path} is a host link, and the build writes ${hit.path} (${hit.by})${hit.path === l.path ? "" : " below it"}: link a path the build does not write`,
      });
  });
  return problems;
}

/** The problems planLayer finds for each of the spec's arches (for spec loading, with lines). */
export function planProblems(spec: LayerSpec, part: FlavorPlanPart): FieldProblem[] {
  const out = new Map<string, FieldProblem>();
  for (const arch of spec.arches) {
    try {
      planLayer(resolveLayer(spec, arch), part);
    } catch (e) {
      if (!(e instanceof SpecFieldError)) throw e;
      for (const p of e.problems) out.set(`${String(p.path)}\0${p.message}`, p);
    }
  }
  return [...out.values()];
}

/** The plan of `layer`, whose flavor's own part is `part` (flavors/index.ts planOf finds it). */
export function planLayer(layer: ResolvedLayer, part: FlavorPlanPart): LayerPlan {
  const { spec } = layer;
  const files: Array<[string, PlannedFile]> = [];
  const warnings = part.warnings(layer);
  for (const f of part.files(layer))
    files.push([f.path, { content: f.content, mode: "0644", apply: "replace", from: f.from }]);
  if (spec.locales.length > 0)
    files.push([
      "etc/locale.gen",
      { content: renderLocaleGen(spec.locales), mode: "0644", apply: "add-lines", from: "locales" },
    ]);
  files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const plan = {
    repository: layer.repository,
    stack: layer.stack,
    version: layer.version,
    os: layer.os,
    arch: layer.arch,
    flavor: spec.flavor,
    prefix: layer.prefix,
    stages: part.stages.map((s) => ({ id: s.id, description: s.description })),
    sets: layer.sets.map((s) => `@${s}`),
    setSources: part.setSources(layer),
    packages: part.packages(layer),
    removePackages: [...(spec.gentoo?.removePackages ?? [])],
    files: Object.fromEntries(files),
    portageLinks: part.portageLinks(layer),
    hostSymlinks: layer.hostLinks.map(plannedLink),
    warnings,
  };
  const conflicts = hostLinkConflicts(
    plan,
    (spec.gentoo?.overlays ?? []).map((o) => o.name),
  );
  if (conflicts.length > 0)
    throw new SpecFieldError("host links in the way of what the build writes", conflicts);
  return plan;
}

function plannedLink(l: HostLink): PlannedHostLink {
  return { path: l.path, plain: l.plain, variant: l.variant ?? null, final: l.final };
}
