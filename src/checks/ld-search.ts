/**
 * How glibc's dynamic loader finds the DT_NEEDED libraries of a program (elf/dl-load.c
 * `_dl_map_object`, elf/dl-deps.c `_dl_map_object_deps`), as a pure function of the objects'
 * dynamic sections and a probe that says what is at a path:
 *
 * 1. a name containing `/` is opened as it is;
 * 2. an object without DT_RUNPATH: the DT_RPATH of the object, then of the object that loaded it,
 *    and so on up to the executable (an object that has DT_RUNPATH has its DT_RPATH ignored, as
 *    glibc does when it reads the dynamic section);
 * 3. (LD_LIBRARY_PATH: not part of a layer, never consulted here;)
 * 4. the object's own DT_RUNPATH (not inherited);
 * 5. the loader's cache and its system search path (`ld.so --help` lists both), given as
 *    `systemDirs`.
 *
 * `$ORIGIN` is the directory of the object as it was opened (for the executable: its real path).
 * Libraries load breadth first; a name already loaded (as a requested name, a SONAME or a path)
 * is not searched again, and two names that open the same file load it once. A candidate of the
 * wrong ELF class or machine is skipped, as the loader skips it.
 */
import { posix } from "node:path";
import { searchPathDirs } from "../layer/elf.js";

export interface DynamicObject {
  /** The path the object is opened by (the loader's `l_name`). */
  path: string;
  /** Directory `$ORIGIN` expands to. */
  origin: string;
  needed: readonly string[];
  rpath?: string;
  runpath?: string;
  soname?: string;
}

export type SearchSource = "RPATH" | "RUNPATH" | "system";

export interface SearchDir {
  dir: string;
  source: SearchSource;
  /** The object whose dynamic section gave the directory (for RPATH/RUNPATH). */
  owner?: string;
}

export type ProbeResult =
  /** An ELF object the loader accepts; `key` identifies the file (device and inode). */
  | { kind: "object"; object: DynamicObject; realPath: string; key: string }
  /** Nothing loadable there; `provisional` when the caller does not know yet (not to be remembered). */
  | { kind: "missing"; provisional?: boolean }
  /** Present, but not loadable by this program (wrong class or machine, not ELF). */
  | { kind: "incompatible"; why: string };

export type Probe = (path: string) => ProbeResult;

export interface Lookup {
  /** The object whose DT_NEEDED this is. */
  by: string;
  needed: string;
  /** Where it was found: the opened path, its real path, the directory that gave it, the file's key. */
  found?: { path: string; realPath: string; via: SearchDir | "path" | "loaded"; key: string };
  /**
   * Directories tried, in order, when nothing was found (a lookup that found its library names the
   * directory that gave it in `found.via`; lists of what was tried before it are not kept: a tree's
   * thousands of link maps would hold one for each); shared, never changed.
   */
  tried: readonly SearchDir[];
  /** Candidates that exist but were rejected (wrong class, not ELF …); shared, never changed. */
  rejected: readonly { path: string; why: string }[];
}

/**
 * The directories of a search as people read them: each once, where it was first tried (an
 * object's RPATH is searched again for each object it loads, as the loader does; saying so each
 * time only hides the list).
 */
export function distinctDirs(tried: readonly SearchDir[]): SearchDir[] {
  const seen = new Set<string>();
  return tried.filter((t) => !seen.has(t.dir) && seen.add(t.dir));
}

/** The directories searched for the DT_NEEDED entries of `object`, in order. */
export function searchDirs(
  object: DynamicObject,
  loaders: readonly DynamicObject[],
  systemDirs: readonly string[],
): SearchDir[] {
  const out: SearchDir[] = [];
  if (!object.runpath) {
    for (const l of [object, ...loaders]) {
      if (l.runpath || !l.rpath) continue;
      for (const dir of searchPathDirs(l.rpath, l.origin)) out.push({ dir, source: "RPATH", owner: l.path });
    }
  }
  for (const dir of searchPathDirs(object.runpath, object.origin))
    out.push({ dir, source: "RUNPATH", owner: object.path });
  for (const dir of systemDirs) out.push({ dir, source: "system" });
  return out;
}

interface Loaded {
  object: DynamicObject;
  key: string;
  /**
   * Where it searches when it has no RUNPATH, and what its dependents inherit: its own RPATH
   * (unless it has a RUNPATH), then its loaders', then the system dirs.
   */
  inherit: DirList;
}

/**
 * Search directories as a chain: an object's own, then those of the list it extends. Each loaded
 * object adds one link to its loader's, so a link map holds no copies of its loaders' lists.
 */
interface DirList {
  own: readonly SearchDir[];
  rest?: DirList;
  /** Two lists with the same directories, in the same order, have the same id (owners aside). */
  id: number;
  /** All its dirs, once a lookup that found nothing asked (SearchCache.tried). */
  all?: readonly SearchDir[];
}

/** What searching a list of directories for a name gave: the index of the dir that gave it, and rejects. */
interface Outcome {
  found?: { index: number; path: string; realPath: string; key: string; object: DynamicObject };
  rejected: { path: string; why: string }[];
}

/** An object's RPATH or RUNPATH, expanded, and the lists that start with it (by the list after it). */
interface OwnDirs {
  source: "RPATH" | "RUNPATH";
  origin: string;
  value: string;
  dirs: readonly SearchDir[];
  id: number;
  /**
   * Lists that start with it, by the list after it: the latest MAX_LISTS_PER_OWNER only. A library's
   * list after another root's is a list of its own (the root's RPATH names the root), so the link maps
   * of a tree's thousands of programs would keep one for each program that loads it; a link map's
   * rounds and its siblings ask for the latest.
   */
  lists: Map<DirList, DirList>;
}
const MAX_LISTS_PER_OWNER = 8;
const NO_TRIED: readonly SearchDir[] = Object.freeze([]);
const NO_REJECTS: readonly { path: string; why: string }[] = Object.freeze([]);

/** The directory at `index` of a list. */
function dirAt(list: DirList, index: number): SearchDir {
  let i = index;
  for (let l: DirList | undefined = list; l; l = l.rest) {
    if (i < l.own.length) return l.own[i]!;
    i -= l.own.length;
  }
  throw new RangeError(`no directory ${index} in the search list`);
}

/** The directories of a list, in order. */
function dirsOf(list: DirList): SearchDir[] {
  const out: SearchDir[] = [];
  for (let l: DirList | undefined = list; l; l = l.rest) out.push(...l.own);
  return out;
}

/**
 * What loadLinkMap can remember between link maps of one probe (one namespace, one program class):
 * expanded RPATH/RUNPATH values and the outcome of searching a list of directories for a name. A
 * probe result marked `provisional` is not remembered. Without one, each loadLinkMap call
 * remembers within itself.
 */
export class SearchCache {
  private readonly ids = new Map<string, number>([["", 0]]);
  private readonly pairs = new Map<number, Map<number, number>>();
  private readonly owned = new Map<string, OwnDirs[]>();
  private readonly outcomes = new Map<number, Map<string, Outcome>>();
  private readonly systems = new Map<number, DirList>();

  /** Ids of texts: own lists start with \u0003, system lists \u0001, pairs \u0002, so kinds never meet. */
  private idOf(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(text, id);
    }
    return id;
  }

  /** The dirs of an RPATH or RUNPATH value of `owner`, `$ORIGIN` expanded. */
  private own(source: "RPATH" | "RUNPATH", owner: DynamicObject): OwnDirs | undefined {
    const value = source === "RPATH" ? owner.rpath : owner.runpath;
    if (!value) return undefined;
    // every loaded object asks, and most ask again: by owner path, then by the value's own string
    let mine = this.owned.get(owner.path);
    if (!mine) {
      mine = [];
      this.owned.set(owner.path, mine);
    }
    for (const x of mine) if (x.source === source && x.origin === owner.origin && x.value === value) return x;
    const dirs = searchPathDirs(value, owner.origin);
    const own: OwnDirs = {
      source,
      origin: owner.origin,
      value,
      dirs: dirs.map((dir) => ({ dir, source, owner: owner.path })),
      id: this.idOf(`\u0003${dirs.join("\0")}`),
      lists: new Map(),
    };
    mine.push(own);
    return own;
  }

  system(systemDirs: readonly string[]): DirList {
    const id = this.idOf(`\u0001${systemDirs.join("\0")}`);
    let list = this.systems.get(id);
    if (!list) {
      list = { own: systemDirs.map((dir) => ({ dir, source: "system" as const })), id };
      this.systems.set(id, list);
    }
    return list;
  }

  /** The directories of `list`, frozen: shared by every lookup that tried them all. */
  tried(list: DirList): readonly SearchDir[] {
    list.all ??= Object.freeze(dirsOf(list));
    return list.all;
  }

  /** `owner`'s RPATH (or RUNPATH) dirs, then `rest`: one list for each, shared by the link maps of this cache. */
  extend(source: "RPATH" | "RUNPATH", owner: DynamicObject, rest: DirList): DirList {
    const own = this.own(source, owner);
    if (!own || own.dirs.length === 0) return rest;
    let list = own.lists.get(rest);
    if (!list) {
      let byRest = this.pairs.get(own.id);
      if (!byRest) {
        byRest = new Map();
        this.pairs.set(own.id, byRest);
      }
      let id = byRest.get(rest.id);
      if (id === undefined) {
        id = this.idOf(`\u0002${own.id}\0${rest.id}`);
        byRest.set(rest.id, id);
      }
      list = { own: own.dirs, rest, id };
      own.lists.set(rest, list);
      if (own.lists.size > MAX_LISTS_PER_OWNER) own.lists.delete(own.lists.keys().next().value!);
    }
    return list;
  }

  /** Search `list` for `needed` (a name without a slash), remembering the outcome unless provisional. */
  search(list: DirList, needed: string, probe: Probe): Outcome {
    let byName = this.outcomes.get(list.id);
    const known = byName?.get(needed);
    if (known) return known;
    const out: Outcome = { rejected: [] };
    let provisional = false;
    let index = 0;
    search: for (let l: DirList | undefined = list; l; l = l.rest) {
      for (const d of l.own) {
        const path = posix.join(d.dir, needed);
        if (!path.startsWith("/")) {
          out.rejected.push({ path, why: "relative path (resolved against the working directory)" });
        } else {
          const r = probe(path);
          if (r.kind === "missing") {
            if (r.provisional) provisional = true;
          } else if (r.kind === "incompatible") {
            out.rejected.push({ path, why: r.why });
          } else {
            out.found = { index, path, realPath: r.realPath, key: r.key, object: r.object };
            break search;
          }
        }
        index++;
      }
    }
    if (!provisional) {
      if (!byName) {
        byName = new Map();
        this.outcomes.set(list.id, byName);
      }
      byName.set(needed, out);
    }
    return out;
  }
}

/**
 * Load `root` and everything it needs, breadth first, as the loader does at program start.
 * `preloaded` are objects already in the link map (the interpreter), matched by name like any other.
 */
export function loadClosure(
  root: { object: DynamicObject; key: string },
  probe: Probe,
  systemDirs: readonly string[],
  preloaded: readonly { object: DynamicObject; key: string }[] = [],
): Lookup[] {
  return loadLinkMap(root, probe, systemDirs, preloaded).lookups;
}

export interface LinkMap {
  lookups: Lookup[];
  /**
   * The global scope symbols are looked up in, in order: the root, then every object as a
   * DT_NEEDED first reaches it, breadth first (glibc's l_searchlist). A preloaded object no one
   * needs is not in it.
   */
  scope: { object: DynamicObject; key: string }[];
}

/** loadClosure, also giving the order symbols are looked up in. */
export function loadLinkMap(
  root: { object: DynamicObject; key: string },
  probe: Probe,
  systemDirs: readonly string[],
  preloaded: readonly { object: DynamicObject; key: string }[] = [],
  cache: SearchCache = new SearchCache(),
): LinkMap {
  const system = cache.system(systemDirs);
  const byKey = new Map<string, Loaded>();
  /** Names loaded objects answer to (requested names, SONAMEs, paths): the first to claim one keeps it. */
  const byName = new Map<string, Loaded>();
  const claim = (name: string, l: Loaded) => {
    if (!byName.has(name)) byName.set(name, l);
  };
  const add = (object: DynamicObject, key: string, inherited: DirList, requested?: string): Loaded => {
    const l: Loaded = {
      object,
      key,
      inherit: object.runpath ? inherited : cache.extend("RPATH", object, inherited),
    };
    claim(object.path, l);
    if (object.soname) claim(object.soname, l);
    if (requested) claim(requested, l);
    byKey.set(key, l);
    return l;
  };
  for (const p of preloaded) add(p.object, p.key, system);
  const rootLoaded = byKey.get(root.key) ?? add(root.object, root.key, system);
  const scope: Loaded[] = [rootLoaded];
  const inScope = new Set<Loaded>(scope);
  const reach = (l: Loaded) => {
    if (inScope.has(l)) return;
    inScope.add(l);
    scope.push(l);
  };

  const lookups: Lookup[] = [];
  const queue: Loaded[] = [rootLoaded];
  for (let qi = 0; qi < queue.length; qi++) {
    const cur = queue[qi]!;
    let list: DirList | undefined;
    for (const needed of cur.object.needed) {
      const lookup: Lookup = { by: cur.object.path, needed, tried: NO_TRIED, rejected: NO_REJECTS };
      lookups.push(lookup);
      const already = byName.get(needed);
      if (already) {
        lookup.found = {
          path: already.object.path,
          realPath: already.object.path,
          via: "loaded",
          key: already.key,
        };
        reach(already);
        continue;
      }
      let found: { path: string; realPath: string; key: string; object: DynamicObject } | undefined;
      if (needed.includes("/")) {
        const r: ProbeResult = needed.startsWith("/")
          ? probe(needed)
          : { kind: "incompatible", why: "relative path (resolved against the working directory)" };
        if (r.kind === "incompatible") lookup.rejected = [{ path: needed, why: r.why }];
        else if (r.kind === "object") {
          found = { path: needed, realPath: r.realPath, key: r.key, object: r.object };
          lookup.found = { path: needed, realPath: r.realPath, via: "path", key: r.key };
        }
      } else {
        // searchDirs(cur.object, its loaders, systemDirs), built from lists its loaders share
        list ??= cur.object.runpath ? cache.extend("RUNPATH", cur.object, system) : cur.inherit;
        const o = cache.search(list, needed, probe);
        if (o.rejected.length > 0) lookup.rejected = o.rejected;
        if (o.found) {
          found = o.found;
          const via = dirAt(list, o.found.index);
          lookup.found = { path: found.path, realPath: found.realPath, via, key: found.key };
        } else lookup.tried = cache.tried(list);
      }
      if (!found) continue;
      const same = byKey.get(found.key);
      if (same) {
        claim(needed, same);
        reach(same);
      } else {
        const object = { ...found.object, path: found.path, origin: posix.dirname(found.path) };
        const l = add(object, found.key, cur.inherit, needed);
        queue.push(l);
        reach(l);
      }
    }
  }
  return { lookups, scope: scope.map((l) => ({ object: l.object, key: l.key })) };
}
