/**
 * Where the package sets a spec names come from, and making them available to Portage.
 *
 * Portage reads a set `@name` from a file `$EPREFIX/etc/portage/sets/name` (its `[usersets]`), or
 * from a section `[name]` of a sets.conf: its own (`usr/share/portage/config/sets/*.conf`: world,
 * system, …), a repository's (`<repo>/sets.conf`) or the user's (`etc/portage/sets.conf`). EESSI
 * keeps its sets as files in its overlay's `etc/portage/sets/`, which Portage does not read; before
 * 2026.06 the role linked that directory into `$EPREFIX/etc/portage/` (reference/compat-layer.md
 * §2.6, §6.2), and commit 11fe497 stopped doing so. After the overlays are checked out, the
 * overlays stage finds each named set the way a Gentoo user would look for it and links an
 * overlay's set file into `etc/portage/sets/`, as the pre-2026 role did, so that `emerge @name`
 * finds it. A set found nowhere stops the stage, naming the set and every place looked at.
 *
 *   planSetSources(layer)              // pure: for `compat plan`
 *   await provideSets(prefixDir, layer) // I/O: after the overlays stage's checkouts
 */
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readlink, rm, symlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { InputError } from "../../errors.js";
import { PORTAGE_SETS } from "../../gentoo/portage-names.js";
import { type Confinement, resolveInside } from "../../paths/inside.js";
import type { ResolvedLayer } from "../../spec/resolve.js";

/** Where Portage reads set files, relative to EPREFIX. */
export const USER_SETS_DIR = "etc/portage/sets";

export type SetSource =
  /** One of Portage's own sets. */
  | { set: string; from: "portage" }
  /**
   * A set file Portage reads at `path`: there already, or linked there from the first of `lookIn`
   * that has it (all relative to EPREFIX) by the overlays stage.
   */
  | { set: string; from: "file"; path: string; lookIn: string[] };

/** Each overlay's `etc/portage/sets/` (where EESSI keeps its sets), in the spec's order. */
function overlaySetDirs(layer: ResolvedLayer): string[] {
  return (layer.spec.gentoo?.overlays ?? []).map((o) => `var/db/repos/${o.name}/${USER_SETS_DIR}`);
}

/** Where each of the layer's sets is expected to come from. Pure. */
export function planSetSources(layer: ResolvedLayer): SetSource[] {
  return layer.sets.map((name) => {
    if (PORTAGE_SETS.includes(name)) return { set: `@${name}`, from: "portage" };
    const path = `${USER_SETS_DIR}/${name}`;
    return {
      set: `@${name}`,
      from: "file",
      path,
      lookIn: [path, ...overlaySetDirs(layer).map((d) => `${d}/${name}`)],
    };
  });
}

/** Section names of an INI file that define one set each (`multiset = true` sections define families). */
export function setsConfSections(text: string): string[] {
  const names: string[] = [];
  let current: string | undefined;
  let multiset = false;
  const flush = () => {
    if (current !== undefined && !multiset) names.push(current);
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      flush();
      current = section[1]!.trim();
      multiset = false;
    } else if (/^multiset\s*=\s*(true|yes|1)$/i.test(line)) multiset = true;
  }
  flush();
  return names;
}

/** The sets.conf files Portage reads (relative to EPREFIX), as far as they exist. */
function setsConfFiles(prefixDir: string, layer: ResolvedLayer): string[] {
  const files: string[] = [];
  const addFileOrDir = (rel: string) => {
    const full = join(prefixDir, rel);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory())
      for (const e of readdirSync(full).sort()) {
        if (!e.startsWith(".") && statSync(join(full, e)).isFile()) files.push(`${rel}/${e}`);
      }
    else files.push(rel);
  };
  addFileOrDir("usr/share/portage/config/sets");
  for (const repo of ["gentoo", ...(layer.spec.gentoo?.overlays ?? []).map((o) => o.name)])
    addFileOrDir(`var/db/repos/${repo}/sets.conf`);
  addFileOrDir("etc/portage/sets.conf");
  return files;
}

export interface ProvidedSet {
  set: string;
  /** How Portage gets it. */
  how: "portage" | "sets.conf" | "in place" | "linked";
  /** The file or sets.conf that defines it (relative to EPREFIX); none for Portage's built-in list. */
  source?: string;
  /** `linked`: the link made, relative to EPREFIX (`etc/portage/sets/<name>`). */
  path?: string;
}

/** `etc/portage/sets/name` exists (a file, or a file through a linked directory). */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Make every set of the layer available to Portage in the prefix being built (`prefixDir`, seen
 * at `layer.prefix`): Portage's own and sets.conf sets as they are, set files found in
 * etc/portage/sets/ as they are, set files of an overlay linked into etc/portage/sets/ with a
 * relative link. Throws an InputError naming each set found nowhere and where it looked, before
 * linking anything.
 */
export async function provideSets(into: Confinement, layer: ResolvedLayer): Promise<ProvidedSet[]> {
  const prefixDir = into.base;
  const conf = new Map<string, string>();
  for (const f of setsConfFiles(prefixDir, layer))
    for (const name of setsConfSections(readFileSync(join(prefixDir, f), "utf8")))
      if (!conf.has(name)) conf.set(name, f);
  const provided: ProvidedSet[] = [];
  const missing: { set: string; detail: string }[] = [];
  for (const source of planSetSources(layer)) {
    const name = source.set.slice(1);
    if (source.from === "portage") {
      provided.push({ set: source.set, how: "portage" });
      continue;
    }
    const definedIn = conf.get(name);
    if (definedIn !== undefined) {
      provided.push({ set: source.set, how: "sets.conf", source: definedIn });
      continue;
    }
    const found = source.lookIn.find((p) => isFile(join(prefixDir, p)));
    if (found === undefined) {
      const files = source.lookIn.map((p) => `${layer.prefix}/${p}`).join(", ");
      missing.push({
        set: source.set,
        detail: `${source.set}: no file ${files}, and no section [${name}] in a sets.conf`,
      });
    } else if (found === source.path) {
      provided.push({ set: source.set, how: "in place", source: found });
    } else {
      provided.push({ set: source.set, how: "linked", source: found, path: source.path });
    }
  }
  if (missing.length > 0)
    throw new InputError(
      `package set${missing.length > 1 ? "s" : ""} ${missing.map((m) => m.set).join(", ")} not found`,
      {
        details: missing.map((m) => m.detail),
        hint: "check gentoo.sets and the overlays (EESSI's sets are files in its overlay's etc/portage/sets/, named <set>-<os>-<arch>; 2026.06 has no set and lists gentoo.packages instead)",
      },
    );
  for (const p of provided) if (p.how === "linked") await linkInto(into, p.path!, p.source!);
  return provided;
}

/**
 * `<prefix>/<path>` becomes a relative link to `<prefix>/<target>`; a stale link is replaced,
 * anything else there is an InputError. Both are resolved inside the prefix (src/paths/inside.ts):
 * a directory on the way that is a link out of it is refused, not followed.
 */
export async function linkInto(into: Confinement, path: string, target: string): Promise<void> {
  const link = resolveInside({ ...into, what: `the link ${path}` }, path, { followLast: false });
  const text = relative(
    dirname(link),
    resolveInside({ ...into, what: `the link target ${target}` }, target, { followLast: false }),
  );
  let stat: ReturnType<typeof lstatSync> | undefined;
  try {
    stat = lstatSync(link);
  } catch {
    stat = undefined;
  }
  if (stat?.isSymbolicLink()) {
    if ((await readlink(link)) === text) return;
    await rm(link);
  } else if (stat)
    throw new InputError(`${path} is in the way of the link to ${target} (it is not a link)`, {
      hint: `remove ${path} from the prefix, or stop linking it`,
    });
  await mkdir(dirname(link), { recursive: true });
  await symlink(text, link);
}
