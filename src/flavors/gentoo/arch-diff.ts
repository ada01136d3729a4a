/**
 * The gentoo flavor's items of `compat diff --arches SPEC`: the packages after the include/exclude
 * filters (gentoo.packages' includeOn/excludeOn) and the package sets, which EESSI names per arch
 * (`eessi-{version}-{os}-{arch}`): with the set files at hand (an overlay's etc/portage/sets/) each
 * set is read into its atoms, else it is compared by name. Pure: the set files come through a
 * SetFiles reader (diff/set-files.ts reads a directory).
 */
import { InputError } from "../../errors.js";
import { InvalidAtomError, parseAtom } from "../../gentoo/atom.js";
import { PORTAGE_SETS } from "../../gentoo/portage-names.js";
import type { Arch } from "../../layer/id.js";
import { nameProblem } from "../../paths/rules.js";
import { addItem, type FlavorArchDiff, type SetFiles } from "../arch-diff.js";

export const archDiff: FlavorArchDiff = {
  items(spec, layer, arch, file, sets) {
    const items = new Map<string, string>();
    const setFiles: string[] = [];
    let unreadSets = false;
    layer.sets.forEach((name, i) => {
      if (PORTAGE_SETS.includes(name)) addItem(items, `@${name}`, "Portage's own set");
      else if (sets)
        for (const a of setAtoms(sets, name, arch, setFiles)) addItem(items, atomName(a.atom, a.at), a.atom);
      else {
        addItem(items, `@${spec.gentoo!.sets[i]}`, name);
        unreadSets = true;
      }
    });
    layer.packageAtoms.forEach((atom) => {
      addItem(items, atomName(atom, `${file}: gentoo.packages (${atom})`), atom);
    });
    return { items, setFiles, unreadSets };
  },
  emptyHint: "list the sets (gentoo.sets) or packages (gentoo.packages) the layer installs",
  note: () =>
    "dependencies are not resolved from a spec; compare built layers (compat diff --arches LAYER…) to see every installed package",
};

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
