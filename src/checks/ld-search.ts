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
  | { kind: "missing" }
  /** Present, but not loadable by this program (wrong class or machine, not ELF). */
  | { kind: "incompatible"; why: string };

export type Probe = (path: string) => ProbeResult;

export interface Lookup {
  /** The object whose DT_NEEDED this is. */
  by: string;
  needed: string;
  /** Where it was found: the opened path, its real path, the directory that gave it, the file's key. */
  found?: { path: string; realPath: string; via: SearchDir | "path" | "loaded"; key: string };
  /** Directories tried, in order (up to and including the one that gave it). */
  tried: SearchDir[];
  /** Candidates that exist but were rejected (wrong class, not ELF …). */
  rejected: { path: string; why: string }[];
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
  /** Names it answers to: requested names, SONAME, path. */
  names: Set<string>;
  /** Loaders, nearest first. */
  chain: DynamicObject[];
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
): LinkMap {
  const loaded: Loaded[] = [];
  const byKey = new Map<string, Loaded>();
  const add = (object: DynamicObject, key: string, chain: DynamicObject[], requested?: string): Loaded => {
    const names = new Set<string>([object.path]);
    if (object.soname) names.add(object.soname);
    if (requested) names.add(requested);
    const l: Loaded = { object, key, names, chain };
    loaded.push(l);
    byKey.set(key, l);
    return l;
  };
  for (const p of preloaded) add(p.object, p.key, []);
  const rootLoaded = byKey.get(root.key) ?? add(root.object, root.key, []);
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
    for (const needed of cur.object.needed) {
      const lookup: Lookup = { by: cur.object.path, needed, tried: [], rejected: [] };
      lookups.push(lookup);
      const already = loaded.find((l) => l.names.has(needed));
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
      const candidates: { path: string; via: SearchDir | "path" }[] = needed.includes("/")
        ? [{ path: needed, via: "path" }]
        : searchDirs(cur.object, cur.chain, systemDirs).map((d) => ({
            path: posix.join(d.dir, needed),
            via: d,
          }));
      for (const c of candidates) {
        if (c.via !== "path") lookup.tried.push(c.via);
        if (!c.path.startsWith("/")) {
          lookup.rejected.push({
            path: c.path,
            why: "relative path (resolved against the working directory)",
          });
          continue;
        }
        const r = probe(c.path);
        if (r.kind === "missing") continue;
        if (r.kind === "incompatible") {
          lookup.rejected.push({ path: c.path, why: r.why });
          continue;
        }
        lookup.found = { path: c.path, realPath: r.realPath, via: c.via, key: r.key };
        const same = byKey.get(r.key);
        if (same) {
          same.names.add(needed);
          reach(same);
        } else {
          const object = { ...r.object, path: c.path, origin: posix.dirname(c.path) };
          const l = add(object, r.key, [cur.object, ...cur.chain], needed);
          queue.push(l);
          reach(l);
        }
        break;
      }
    }
  }
  return { lookups, scope: scope.map((l) => ({ object: l.object, key: l.key })) };
}
