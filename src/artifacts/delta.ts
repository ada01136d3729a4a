/**
 * What a delta artifact carries: the entries of the new tree that are new or differ from the base
 * (type, mode, content, link target), whole hard-link groups when any member of one changed, and
 * the base's paths that are gone (or changed type) as deletions. A changed regular file may instead
 * travel as a binary patch against a file of the base: the same path, or a deleted file whose path
 * differs only in its numbers (a renamed versioned file: libfoo.so.1.2.3 → libfoo.so.1.2.4,
 * /usr/share/doc/openssl-3.0.13/ → openssl-3.0.14/). Pure: two indexes in, a plan out.
 */
import { contentDigest, type EntryIndex, type IndexEntry } from "./entry-index.js";
import { PATCH_DIR, selfAndAncestors } from "./rules.js";

export { PATCH_DIR } from "./rules.js";

/** Smaller files are shipped whole: a patch and its manifest entry would not be smaller. */
export const MIN_PATCH_BYTES = 4096;

export interface PatchCandidate {
  /** The file in the new tree. */
  path: string;
  /** The base's file to patch from. */
  from: string;
}

export interface DeltaPlan {
  /** Paths (relative to the top) whose entries go into the delta archive. */
  include: Set<string>;
  /** Paths of the base to remove; a removed directory's children are not listed. */
  deletions: string[];
  /** Included regular files that may travel as a patch instead (whichever is smaller). */
  patchable: PatchCandidate[];
}

function differs(oldIndex: EntryIndex, newIndex: EntryIndex, rel: string): boolean {
  const a = oldIndex.get(rel);
  const b = newIndex.get(rel)!;
  if (b.type === "hardlink" && a?.type === "hardlink")
    return (
      a.mode !== b.mode ||
      a.digest !== b.digest ||
      contentDigest(oldIndex, rel) !== contentDigest(newIndex, rel)
    );
  return entryDiffers(a, b);
}

/** Whether entry `b` differs from `a` (none: new) in type, mode, or content (a symlink's target; not a directory's). */
export function entryDiffers(a: IndexEntry | undefined, b: IndexEntry): boolean {
  if (!a) return true;
  if (a.type !== b.type || a.mode !== b.mode) return true;
  if (b.type === "directory") return false;
  return a.digest !== b.digest;
}

/** A path with every run of digits replaced: the same for two versions of a versioned file. */
export function versionlessPath(rel: string): string {
  return rel.replace(/[0-9]+/g, "#");
}

/**
 * The base files a patch may start from, by versionless path: files the new tree does not have,
 * whose deletion (theirs or a directory's above them) leaves nothing of the new tree in its place,
 * so they can still be read after the delta's entries are extracted and removed afterwards.
 */
function renameBases(oldIndex: EntryIndex, newIndex: EntryIndex, deletions: string[]): Map<string, string[]> {
  const deleted = new Set(deletions);
  const bases = new Map<string, string[]>();
  for (const [rel, e] of oldIndex) {
    if (e.type !== "file" || e.size < MIN_PATCH_BYTES || newIndex.has(rel)) continue;
    let covering: string | undefined;
    for (const p of selfAndAncestors(rel)) if (deleted.has(p)) covering = p;
    if (covering === undefined || newIndex.has(covering)) continue;
    const key = versionlessPath(rel);
    bases.set(key, [...(bases.get(key) ?? []), rel]);
  }
  return bases;
}

export function planDelta(oldIndex: EntryIndex, newIndex: EntryIndex): DeltaPlan {
  const include = new Set<string>();
  for (const rel of newIndex.keys()) if (differs(oldIndex, newIndex, rel)) include.add(rel);

  // A hard link needs its target in the same archive, and extracting one member of a group
  // replaces only that path: ship the whole group.
  const groups = new Map<string, string[]>();
  for (const [rel, e] of newIndex)
    if (e.type === "hardlink") groups.set(e.digest, [...(groups.get(e.digest) ?? []), rel]);
  for (const [first, links] of groups)
    if (include.has(first) || links.some((l) => include.has(l))) {
      include.add(first);
      for (const l of links) include.add(l);
    }

  const deletions: string[] = [];
  const deletedDirs = new Set<string>();
  const underDeleted = (rel: string): boolean => {
    for (let i = rel.indexOf("/"); i !== -1; i = rel.indexOf("/", i + 1))
      if (deletedDirs.has(rel.slice(0, i))) return true;
    return false;
  };
  for (const rel of [...oldIndex.keys()].sort()) {
    if (rel === "" || underDeleted(rel)) continue;
    const n = newIndex.get(rel);
    const o = oldIndex.get(rel)!;
    if (!n || n.type !== o.type) {
      deletions.push(rel);
      if (o.type === "directory") deletedDirs.add(rel);
    }
  }

  // Patches: changed regular files outside hard-link groups (a group's links need a whole first member).
  const patchable: PatchCandidate[] = [];
  const renamed = renameBases(oldIndex, newIndex, deletions);
  for (const path of [...include].sort()) {
    const n = newIndex.get(path)!;
    if (n.type !== "file" || n.size < MIN_PATCH_BYTES || groups.has(path)) continue;
    const o = oldIndex.get(path);
    if (o) {
      if (o.type === "file" && o.size > 0) patchable.push({ path, from: path });
      continue;
    }
    const bases = renamed.get(versionlessPath(path));
    if (!bases) continue;
    // The closest in size; among equals the last in name order (usually the newest version).
    const from = [...bases]
      .sort()
      .reduce((best, b) =>
        Math.abs(oldIndex.get(b)!.size - n.size) <= Math.abs(oldIndex.get(best)!.size - n.size) ? b : best,
      );
    patchable.push({ path, from });
  }
  return { include, deletions, patchable };
}

/**
 * The order a delta is applied in (both publishers): deletions that no patch reads from go first
 * (a path that changed type must be gone before its new entry is extracted), then the archive is
 * extracted, then the patches are applied, then the deletions the patches read from (renamed
 * files' old versions) and the patch directory are removed.
 */
export function deletionPhases(
  deletions: readonly string[],
  patches: readonly { from: string }[],
): { before: string[]; after: string[] } {
  const read = new Set<string>();
  for (const p of patches) for (const a of selfAndAncestors(p.from)) read.add(a);
  return {
    before: deletions.filter((d) => !read.has(d)),
    after: deletions.filter((d) => read.has(d)),
  };
}

/**
 * The index of the tree a delta produces from the tree indexed as `base`: its deletions (with
 * everything below them) removed, then its archive's members (`members`, indexed relative to the
 * top dir; the patch directory left out) and its patches' results put in. Pure; what publishing a
 * delta must give, so the next delta made from that tree can be checked against it.
 */
export function applyDeltaToIndex(
  base: EntryIndex,
  deletions: readonly string[],
  members: EntryIndex,
  patches: readonly { path: string; sha256: string; size: number; mode: number; mtime: number }[],
): EntryIndex {
  const out: EntryIndex = new Map(base);
  const gone = new Set(deletions);
  for (const rel of base.keys()) {
    if (rel === "") continue;
    for (const a of selfAndAncestors(rel))
      if (gone.has(a)) {
        out.delete(rel);
        break;
      }
  }
  for (const [rel, e] of members) {
    if (rel === PATCH_DIR || rel.startsWith(`${PATCH_DIR}/`)) continue;
    out.set(rel, e);
  }
  for (const p of patches)
    out.set(p.path, { type: "file", mode: p.mode, size: p.size, digest: p.sha256, mtime: p.mtime });
  return out;
}
