/**
 * What a change to a published layer writes and deletes, and what it takes to undo it. Pure:
 * indexes in, paths out.
 *
 * A replacement by a full artifact is planned like a delta (artifacts/delta.ts planDelta) between
 * the layer as it is and the artifact's tree: only entries that are new or differ are extracted,
 * paths that are gone (or change type) deleted; nested-catalog markers the repository made are
 * never deleted. The undo of any change (replacement, delta, rollback) is the layer's own
 * entries at the paths the change writes or deletes, and the deletion of what it creates.
 */
import { PATCH_DIR, planDelta } from "../artifacts/delta.js";
import {
  contentIndex,
  type EntryIndex,
  type IndexEntryType,
  isCatalogMarker,
} from "../artifacts/entry-index.js";
import { selfAndAncestors } from "../artifacts/rules.js";

export interface ReplacementPlan {
  /** Paths (relative to the layer) whose members are extracted. */
  include: Set<string>;
  /** Paths removed first; a removed directory's children are not listed. */
  deletions: string[];
}

/** Bring the layer indexed as `live` to the tree of the full artifact indexed as `target`. */
export function planReplacement(live: EntryIndex, target: EntryIndex): ReplacementPlan {
  const plan = planDelta(
    contentIndex(live, { keepMarkers: true }),
    contentIndex(target, { keepMarkers: true }),
  );
  return { include: plan.include, deletions: plan.deletions.filter((d) => !isCatalogMarker(d)) };
}

export interface ChangeFootprint {
  /** Every path the change writes (members extracted, patched files) and the type it gives them. */
  writes: Map<string, IndexEntryType>;
  /** Paths it removes (with everything below). */
  deletions: readonly string[];
}

export interface UndoPlan {
  /** The layer's own entries to keep (archived without recursion), in path order; "" is the layer itself. */
  members: string[];
  /** What the change creates (or turns into another type): removed by the undo, topmost paths only. */
  deletions: string[];
}

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function typeOf(e: { type: IndexEntryType }): IndexEntryType {
  return e.type === "hardlink" ? "file" : e.type;
}

export function planUndo(live: EntryIndex, change: ChangeFootprint): UndoPlan {
  const members = new Set<string>([""]);
  const deleted = new Set(change.deletions);
  const underDeletion = (rel: string) => [...selfAndAncestors(rel)].some((a) => deleted.has(a));
  for (const rel of live.keys()) if (rel !== "" && underDeletion(rel)) members.add(rel);
  const created: string[] = [];
  for (const [rel, type] of change.writes) {
    if (rel === PATCH_DIR || rel.startsWith(`${PATCH_DIR}/`)) continue;
    const before = live.get(rel);
    if (before) members.add(rel);
    if (rel !== "" && (!before || typeOf(before) !== typeOf({ type }))) created.push(rel);
  }
  // Only the topmost of what the change creates: removing it removes what is below.
  const createdSet = new Set(created);
  const deletions = created
    .filter((rel) => ![...selfAndAncestors(rel)].some((a) => a !== rel && createdSet.has(a)))
    .sort(byUtf8);
  return { members: [...members].sort(byUtf8), deletions };
}
