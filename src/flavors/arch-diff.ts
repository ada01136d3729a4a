/**
 * What a flavor gives `compat diff --arches SPEC` (diff/spec-arches.ts) for each arch of a spec,
 * from the spec alone: its items (packages, sets) valued per arch. Each flavor declares it in its
 * folder (FlavorModule.archDiff, `<id>/arch-diff.ts`).
 */
import type { Arch } from "../layer/id.js";
import type { ResolvedLayer } from "../spec/resolve.js";
import type { LayerSpec } from "../spec/schema.js";

/** Where set files are read from: `read(name)` gives the file and its text, undefined when there is none. */
export interface SetFiles {
  /** The directory, for messages. */
  where: string;
  read(name: string): { file: string; text: string } | undefined;
}

/** One arch's items, as a flavor makes them. */
export interface ArchItems {
  /** Item → its value(s) on this arch, space-separated. */
  items: Map<string, string>;
  /** The set files read for it (nested sets included). */
  setFiles: string[];
  /** Whether some set was compared by name because its file was not read. */
  unreadSets: boolean;
}

export interface FlavorArchDiff {
  /** The items of `layer` (the spec resolved for `arch`); `file` names the spec in messages. */
  items(spec: LayerSpec, layer: ResolvedLayer, arch: Arch, file: string, sets?: SetFiles): ArchItems;
  /** The hint when no arch gets an item. */
  emptyHint: string;
  /** The note on what the spec alone cannot say. */
  note(spec: LayerSpec): string;
}

/** Add `value` to `name`'s values on this arch (an item may come from a set and from packages). */
export function addItem(items: Map<string, string>, name: string, value: string): void {
  const old = items.get(name);
  if (old === undefined) items.set(name, value);
  else if (!old.split(" ").includes(value)) items.set(name, [...old.split(" "), value].sort().join(" "));
}
