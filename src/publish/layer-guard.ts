/**
 * What a delta must not do to the published layer it applies to, checked before anything is
 * deleted, extracted or patched. `compat verify` knows only the symlinks inside the archive; the
 * layer already has its own, and GNU tar and the apply script follow them: a member `abs/evil`
 * under a base symlink `abs -> /outside` would be written to /outside/evil. So the layer is listed
 * on the host that holds it (locally or over ssh, never through this process's fs for cvmfs), and
 * the delta is refused when any of its members, hard-link targets, deletions or patch paths lies
 * below a symlink of the layer, when a patch would replace something that is not a regular file,
 * or when the layer itself (or a directory between the repository's versions dir and it) is a
 * symlink or not a directory.
 */

import { posix } from "node:path";
import { deletionPhases, PATCH_DIR } from "../artifacts/delta.js";
import type { ArtifactManifest } from "../artifacts/manifest.js";
import { selfAndAncestors, type Violation } from "../artifacts/rules.js";
import { ToolError, ValidationError } from "../errors.js";
import type { CommandHost } from "../exec/host.js";
import { type DeltaMember, rejection } from "./publisher.js";

export type { DeltaMember };

/** One entry of a published layer as its host lists it (find's %y, %m, %s, %T@, %l). */
export interface LiveEntry {
  /** `d`, `f`, `l`, or another of find's %y letters. */
  type: string;
  mode: number;
  size: number;
  /** Whole seconds. */
  mtime: number;
  /** A symlink's target. */
  target: string;
}

/** A published layer as listed on its host: every entry, and its symlinks and other non-regular entries by path. */
export interface LayerListing {
  entries: Map<string, LiveEntry>;
  symlinks: Map<string, string>;
  /** Directories, devices, fifos, sockets (and symlinks) by path. */
  nonRegular: Map<string, string>;
}

const NOT_A_LAYER = 3;

const LIST_SCRIPT = `set -u
layer=$1
shift
for d do
  if [ -L "$d" ]; then printf 'compat guard: %s is a symlink\\n' "$d" >&2; exit ${NOT_A_LAYER}; fi
done
if [ -L "$layer" ]; then printf 'compat guard: %s is a symlink, not the layer directory\\n' "$layer" >&2; exit ${NOT_A_LAYER}; fi
if [ ! -d "$layer" ]; then printf 'compat guard: %s is not a directory\\n' "$layer" >&2; exit ${NOT_A_LAYER}; fi
exec find "$layer" -printf '%y\\0%P\\0%m\\0%s\\0%T@\\0%l\\0'
`;

const TYPE_NAMES: Record<string, string> = {
  d: "directory",
  l: "symlink",
  p: "fifo",
  s: "socket",
  b: "block device",
  c: "character device",
};

/** The directories between a repository's `versions` dir and the layer `<version>/compat/<os>/<arch>`. */
export function layerAncestors(versions: string, layer: string): string[] {
  const parts = layer.split("/");
  return [1, 2, 3].map((n) => posix.join(versions, ...parts.slice(0, n)));
}

/**
 * List the layer at `layerPath` on `host` (every entry, NUL-separated, so any name survives);
 * refuse a layer that is a symlink or no directory, or
 * one reached through a symlink among `ancestors` (the directories between the versions dir and it).
 */
export async function listLayer(
  host: CommandHost,
  layerPath: string,
  ancestors: string[] = [],
): Promise<LayerListing> {
  let stdout: string;
  try {
    ({ stdout } = await host.run(["sh", "-c", LIST_SCRIPT, "compat-guard", layerPath, ...ancestors]));
  } catch (e) {
    if (!(e instanceof ToolError && e.exitStatus === NOT_A_LAYER)) throw e;
    const said = (e.stderrTail ?? "")
      .trim()
      .split("\n")
      .pop()
      ?.replace(/^compat guard: /, "");
    throw new ValidationError(
      `refusing to change ${layerPath}: ${said ?? e.message}; nothing was published`,
      {
        hint: "the published layer must be a real directory; publish the full artifact instead",
      },
    );
  }
  const fields = stdout.split("\0");
  const listing: LayerListing = { entries: new Map(), symlinks: new Map(), nonRegular: new Map() };
  for (let i = 0; i + 5 < fields.length; i += 6) {
    const [type, path, mode, size, mtime, target] = fields.slice(i, i + 6) as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    listing.entries.set(path, {
      type,
      mode: Number.parseInt(mode, 8),
      size: Number(size),
      mtime: Math.floor(Number(mtime)),
      target,
    });
    if (path === "" || type === "f") continue;
    listing.nonRegular.set(path, TYPE_NAMES[type] ?? type);
    if (type === "l") listing.symlinks.set(path, target);
  }
  return listing;
}

/** The problems of applying delta `m` (with archive members `members`) onto a layer listed as `layer`. */
export function deltaLayerViolations(
  m: ArtifactManifest,
  members: readonly DeltaMember[],
  layer: LayerListing,
): Violation[] {
  const out: Violation[] = [];
  const patches = m.delta?.patches ?? [];
  const deletions = m.delta?.deletions ?? [];
  // A base symlink removed before extraction (its path changed type) is gone when members land.
  const removedFirst = new Set(deletionPhases(deletions, patches).before);
  const removed = (rel: string) => [...selfAndAncestors(rel)].some((a) => removedFirst.has(a));
  const throughSymlink = (rel: string, exempt: boolean): string | undefined => {
    for (const a of selfAndAncestors(rel))
      if (a !== rel && layer.symlinks.has(a) && !(exempt && removed(a)))
        return `reached through ${a} -> ${layer.symlinks.get(a)}, a symlink of the published layer`;
    return undefined;
  };
  const add = (member: string, message: string, rule: Violation["rule"] = "symlink-escape") =>
    out.push({ rule, member, message });

  for (const x of members) {
    const p = throughSymlink(x.path, true);
    if (p) add(x.path, p);
    const t = x.linkTarget === undefined ? undefined : throughSymlink(x.linkTarget, true);
    if (t) add(x.path, `its hard-link target ${x.linkTarget} is ${t}`);
  }
  for (const d of deletions) {
    const p = throughSymlink(d, false);
    if (p) add(d, `deletion ${p}`);
  }
  for (const patch of patches) {
    for (const x of new Set([patch.path, patch.from])) {
      const p = throughSymlink(x, true);
      if (p) add(patch.path, `${x === patch.path ? "" : `its base file ${x} is `}${p}`);
    }
    const existing = layer.nonRegular.get(patch.path);
    if (existing !== undefined && !removed(patch.path))
      add(
        patch.path,
        `the patch would replace a ${existing} of the published layer; a patch replaces regular files only`,
        existing === "symlink" ? "symlink-escape" : "delta-patch",
      );
  }
  const patchDir = layer.nonRegular.get(PATCH_DIR);
  if (patchDir !== undefined && patchDir !== "directory")
    add(
      PATCH_DIR,
      `the published layer has a ${patchDir} at ${PATCH_DIR}, which a delta extracts its patches into`,
    );
  return out;
}

/**
 * Before a delta changes anything: list the layer on its host and refuse the delta if it would
 * reach outside the layer or replace what it must not (ValidationError naming member and symlink).
 */
export async function guardDelta(
  host: CommandHost,
  layerPath: string,
  ancestors: string[],
  m: ArtifactManifest,
  members: readonly DeltaMember[],
): Promise<void> {
  if (m.kind !== "delta") return;
  const layer = await listLayer(host, layerPath, ancestors);
  const violations = deltaLayerViolations(m, members, layer);
  if (violations.length > 0) throw rejection(`${m.artifact} onto ${layerPath}`, violations);
}

/** After extraction (both kinds): the layer about to be published is a real directory. */
export async function requireLayerDirectory(host: CommandHost, layerPath: string, artifact: string) {
  const r = await host.run(["sh", "-c", '[ -d "$1" ] && [ ! -L "$1" ]', "compat-guard", layerPath], [0, 1]);
  if (r.status !== 0)
    throw new ValidationError(
      `${artifact}: extracting it did not produce a directory at ${layerPath} (a symlink or another file is there); nothing was published`,
    );
}
