/**
 * What each arch of a spec gets, from the spec alone, compared: each arch's items come from the
 * spec's flavor (FlavorModule.archDiff: gentoo's packages after the include/exclude filters and its
 * package sets, read from set files when given; debian's packages and suite). Pure: the set files
 * come through a SetFiles reader (set-files.ts reads a directory).
 */
import { InputError } from "../errors.js";
import type { SetFiles } from "../flavors/arch-diff.js";
import { getFlavor } from "../flavors/index.js";
import type { Arch } from "../layer/id.js";
import { resolveLayer } from "../spec/resolve.js";
import type { FlavorName, LayerSpec } from "../spec/schema.js";
import { type ArchColumn, type ArchComparison, compareArches } from "./arches.js";

export type { SetFiles } from "../flavors/arch-diff.js";

export interface SpecArchColumn {
  arch: Arch;
  /** Packages this arch gets (those of the sets included, when they were read). */
  packages: number;
  /** Whether the sets' files were read (else the sets are compared by name). */
  setsRead: boolean;
  /** The sets it installs, by their names on this arch. */
  sets: string[];
  /** The set files read for it (nested sets included). */
  setFiles: string[];
}

export interface SpecArchDiff {
  form: "spec";
  spec: string;
  stack: string;
  version: string;
  os: string;
  flavor: FlavorName;
  arches: Arch[];
  perArch: SpecArchColumn[];
  /**
   * Items are `category/name` (gentoo) or package names (debian), valued by the atom(s) or the
   * suite; a set whose file was not read is `@<the spec's entry>`, valued by its name on each arch.
   */
  packages: ArchComparison;
  notes: string[];
}

/** At least two arches, or there is nothing to compare. */
export function requireSeveralArches(spec: LayerSpec, file: string): void {
  if (spec.arches.length >= 2) return;
  throw new InputError(
    `${file}: arches: the spec lists one arch (${spec.arches.join(", ")}), so there is nothing to compare across arches`,
    {
      hint: "list two or more CPU families in the spec's arches (e.g. arches: [x86_64, aarch64, riscv64]), or compare built layers: compat diff --arches LAYER_A LAYER_B",
    },
  );
}

/** What each of the spec's arches gets, compared. `sets` reads set files; without it sets are compared by name. */
export function specArchDiff(spec: LayerSpec, file: string, sets?: SetFiles): SpecArchDiff {
  requireSeveralArches(spec, file);
  const notes: string[] = [];
  const perArch: SpecArchColumn[] = [];
  const columns: ArchColumn[] = [];
  let unreadSets = false;
  const flavor = getFlavor(spec.flavor).archDiff;
  for (const arch of spec.arches) {
    const layer = resolveLayer(spec, arch);
    const own = flavor.items(spec, layer, arch, file, sets);
    const { items, setFiles } = own;
    if (own.unreadSets) unreadSets = true;
    perArch.push({
      arch,
      packages: [...items.keys()].filter((k) => !k.startsWith("@")).length,
      setsRead: sets !== undefined || layer.sets.length === 0,
      sets: layer.sets,
      setFiles,
    });
    columns.push({ arch, items });
  }
  if (columns.every((c) => c.items.size === 0))
    throw new InputError(`${file}: no arch gets a package or a set: there is nothing to compare`, {
      hint: flavor.emptyHint,
    });
  if (unreadSets)
    notes.push(
      "the package sets were compared by name, not by content: give --sets DIR (the overlay's etc/portage/sets/, e.g. a checkout of EESSI's gentoo-overlay) to compare the packages in them",
    );
  notes.push(flavor.note(spec));
  return {
    form: "spec",
    spec: file,
    stack: spec.stack,
    version: spec.version,
    os: spec.os,
    flavor: spec.flavor,
    arches: [...spec.arches],
    perArch,
    packages: compareArches(columns),
    notes,
  };
}
