/**
 * How equal the layers of one version are across CPU families: given, for each arch, what it gets
 * (package → version or atom), which items only some arches get and which every arch gets in a
 * different form. Pure: `compat diff --arches` feeds it from a spec (spec-arches.ts) or from built
 * layers (layer-arches.ts).
 */
import type { Arch } from "../layer/id.js";

/** What one arch gets: item name → its value there (an atom, a version, a set name, a check status). */
export interface ArchColumn {
  arch: Arch;
  items: ReadonlyMap<string, string>;
}

/** An item only some of the arches get. */
export interface ArchSpecificItem {
  name: string;
  /** The arches that get it, in the order the columns were given. */
  on: Arch[];
  /** The arches that do not. */
  missingOn: Arch[];
  /** Its value on each arch that gets it. */
  values: Partial<Record<Arch, string>>;
}

/** An item every arch gets, but not in the same form (another version, atom or status). */
export interface DifferingItem {
  name: string;
  values: Partial<Record<Arch, string>>;
}

export interface ArchComparison {
  arches: Arch[];
  /** Items every arch gets in the same form. */
  common: number;
  archSpecific: ArchSpecificItem[];
  differing: DifferingItem[];
}

/**
 * Compare the columns (at least two, each arch once: the callers prove it). `same` says whether
 * two values are the same (default: equal strings; versions pass their database's comparison).
 */
export function compareArches(
  columns: readonly ArchColumn[],
  same: (a: string, b: string) => boolean = (a, b) => a === b,
): ArchComparison {
  const arches = columns.map((c) => c.arch);
  const names = [...new Set(columns.flatMap((c) => [...c.items.keys()]))].sort();
  const out: ArchComparison = { arches, common: 0, archSpecific: [], differing: [] };
  for (const name of names) {
    const values: Partial<Record<Arch, string>> = {};
    const on: Arch[] = [];
    for (const c of columns) {
      const v = c.items.get(name);
      if (v === undefined) continue;
      values[c.arch] = v;
      on.push(c.arch);
    }
    if (on.length < arches.length) {
      out.archSpecific.push({ name, on, missingOn: arches.filter((a) => !on.includes(a)), values });
      continue;
    }
    const first = values[on[0]!]!;
    if (on.every((a) => same(first, values[a]!))) out.common++;
    else out.differing.push({ name, values });
  }
  return out;
}

export function hasArchDifferences(c: ArchComparison): boolean {
  return c.archSpecific.length > 0 || c.differing.length > 0;
}
