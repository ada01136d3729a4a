/**
 * What a delta artifact carries: the entries of the new tree that are new or differ from the base
 * (type, mode, content, link target), whole hard-link groups when any member of one changed, and
 * the base's paths that are gone (or changed type) as deletions. Pure: two indexes in, a plan out.
 */
import { contentDigest, type EntryIndex } from "./entry-index.js";

export interface DeltaPlan {
  /** Paths (relative to the top) whose entries go into the delta archive. */
  include: Set<string>;
  /** Paths of the base to remove before extracting; a removed directory's children are not listed. */
  deletions: string[];
}

function differs(oldIndex: EntryIndex, newIndex: EntryIndex, rel: string): boolean {
  const a = oldIndex.get(rel);
  const b = newIndex.get(rel)!;
  if (!a) return true;
  if (a.type !== b.type || a.mode !== b.mode) return true;
  if (b.type === "directory") return false;
  if (b.type === "hardlink")
    return a.digest !== b.digest || contentDigest(oldIndex, rel) !== contentDigest(newIndex, rel);
  return a.digest !== b.digest;
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
  return { include, deletions };
}
