/**
 * What each arch of a spec gets, from the spec alone: the packages after the include/exclude
 * filters (gentoo.packages' includeOn/excludeOn, EESSI's include_on/exclude_on) and the package
 * sets, which EESSI names per arch (`eessi-{version}-{os}-{arch}`): with the set files at hand
 * (an overlay's etc/portage/sets/) each set is read into its atoms, else it is compared by name.
 * Pure: the set files come through a SetFiles reader (set-files.ts reads a directory).
 */
import { InputError } from "../errors.js";
import { flavorHas } from "../flavors/index.js";
import { InvalidAtomError, parseAtom } from "../gentoo/atom.js";
import { PORTAGE_SETS } from "../gentoo/portage-names.js";
import type { Arch } from "../layer/id.js";
import { nameProblem } from "../paths/rules.js";
import { resolveLayer } from "../spec/resolve.js";
import type { FlavorName, LayerSpec } from "../spec/schema.js";
import { debianSuiteFor } from "../spec/schema.js";
import { type ArchColumn, type ArchComparison, compareArches } from "./arches.js";

/** Where set files are read from: `read(name)` gives the file and its text, undefined when there is none. */
export interface SetFiles {
  /** The directory, for messages. */
  where: string;
  read(name: string): { file: string; text: string } | undefined;
}

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

/** Add `value` to `name`'s values on this arch (an item may come from a set and from packages). */
function addItem(items: Map<string, string>, name: string, value: string): void {
  const old = items.get(name);
  if (old === undefined) items.set(name, value);
  else if (!old.split(" ").includes(value)) items.set(name, [...old.split(" "), value].sort().join(" "));
}

/** `category/name` of an atom of a set file or the spec, or an InputError naming where it is. */
function atomName(atom: string, where: string): string {
  try {
    return parseAtom(atom, { allowRepo: true }).cp;
  } catch (e) {
    if (!(e instanceof InvalidAtomError)) throw e;
    throw new InputError(`${where}: ${e.message}`, {
      hint: "a set file lists one atom per line (e.g. =sys-apps/archspec-0.2.5::eessi), @other-set, or # comments",
    });
  }
}

/** Deeper than any overlay nests its sets (EESSI: one level); a deeper chain is refused, not followed. */
const MAX_SET_DEPTH = 64;

/**
 * The atoms of set `name` (its file, and the sets it names with `@set`), each with the file and
 * line it is on, each atom once. A missing file, a set name that is not a file name, a set that
 * names itself again and sets nested deeper than MAX_SET_DEPTH are InputErrors. Each set is read
 * once however often it is named (`expanded`), so sets that name each other many times over do
 * not multiply the work.
 */
export function setAtoms(
  files: SetFiles,
  name: string,
  arch: Arch,
  read: string[] = [],
  chain: string[] = [],
  expanded: Map<string, Array<{ atom: string; at: string }>> = new Map(),
): Array<{ atom: string; at: string }> {
  if (chain.includes(name))
    throw new InputError(
      `set @${name} includes itself (${[...chain, name].map((s) => `@${s}`).join(" → ")})`,
      {
        hint: `remove the @${name} line from one of those set files in ${files.where}`,
      },
    );
  const known = expanded.get(name);
  if (known) return known;
  const unsafe = nameProblem(name);
  if (unsafe)
    throw new InputError(`set name ${JSON.stringify(name)} ${unsafe.message}`, {
      hint: "a set is a file in etc/portage/sets/: its name is a file name",
    });
  if (chain.length >= MAX_SET_DEPTH)
    throw new InputError(
      `set @${name}: sets nested more than ${MAX_SET_DEPTH} deep (@${chain[0]} → @${chain[1]} → … → @${name})`,
      { hint: `an overlay's sets name each other a level or two deep: check the @ lines in ${files.where}` },
    );
  const found = files.read(name);
  if (!found)
    throw new InputError(`the set @${name} (of ${arch}) is not in ${files.where}`, {
      hint: `expected the file ${files.where}/${name}: give --sets the directory of the overlay's set files (EESSI: gentoo-overlay's etc/portage/sets/), or leave --sets out to compare sets by name`,
    });
  read.push(found.file);
  const atoms = new Map<string, string>();
  const add = (atom: string, at: string) => {
    if (!atoms.has(atom)) atoms.set(atom, at);
  };
  found.text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const at = `${found.file}:${i + 1}`;
    if (line.startsWith("@"))
      for (const a of setAtoms(files, line.slice(1), arch, read, [...chain, name], expanded))
        add(a.atom, a.at);
    else {
      if (/\s/.test(line))
        throw new InputError(`${at}: ${JSON.stringify(line)} is more than one atom`, {
          hint: "a set file lists one atom per line",
        });
      add(line, at);
    }
  });
  const out = [...atoms].map(([atom, at]) => ({ atom, at }));
  expanded.set(name, out);
  return out;
}

/** What each of the spec's arches gets, compared. `sets` reads set files; without it sets are compared by name. */
export function specArchDiff(spec: LayerSpec, file: string, sets?: SetFiles): SpecArchDiff {
  requireSeveralArches(spec, file);
  const notes: string[] = [];
  const perArch: SpecArchColumn[] = [];
  const columns: ArchColumn[] = [];
  let unreadSets = false;
  for (const arch of spec.arches) {
    const layer = resolveLayer(spec, arch);
    const items = new Map<string, string>();
    const setFiles: string[] = [];
    if (!flavorHas(spec.flavor, "portage"))
      for (const p of spec.debian?.packages ?? []) addItem(items, p, debianSuiteFor(spec.debian!, arch));
    else {
      layer.sets.forEach((name, i) => {
        if (PORTAGE_SETS.includes(name)) addItem(items, `@${name}`, "Portage's own set");
        else if (sets)
          for (const a of setAtoms(sets, name, arch, setFiles))
            addItem(items, atomName(a.atom, a.at), a.atom);
        else {
          addItem(items, `@${spec.gentoo!.sets[i]}`, name);
          unreadSets = true;
        }
      });
      layer.packageAtoms.forEach((atom) => {
        addItem(items, atomName(atom, `${file}: gentoo.packages (${atom})`), atom);
      });
    }
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
      hint: !flavorHas(spec.flavor, "portage")
        ? "list the packages in debian.packages"
        : "list the sets (gentoo.sets) or packages (gentoo.packages) the layer installs",
    });
  if (unreadSets)
    notes.push(
      "the package sets were compared by name, not by content: give --sets DIR (the overlay's etc/portage/sets/, e.g. a checkout of EESSI's gentoo-overlay) to compare the packages in them",
    );
  notes.push(
    !flavorHas(spec.flavor, "portage")
      ? `the packages of the mmdebstrap variant (${spec.debian?.variant}) and every dependency come on top on each arch; compare built layers (compat diff --arches LAYER…) to see those`
      : "dependencies are not resolved from a spec; compare built layers (compat diff --arches LAYER…) to see every installed package",
  );
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
