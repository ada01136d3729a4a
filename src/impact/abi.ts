/**
 * The ABI closure of one software object against one layer, without running anything: what
 * glibc's loader would do at the object's start with LD_BIND_NOW (what `ldd -r` reports).
 *
 * 1. its interpreter (PT_INTERP) exists;
 * 2. every DT_NEEDED of it and of everything it loads resolves, by the loader's search
 *    (ld-search.ts: RPATH/RUNPATH, $ORIGIN, the loader's cache and system dirs) in the namespace
 *    the sandbox shows: the layer at its prefix, the software trees at their paths, the host;
 * 3. every version each loaded object needs (VERNEED) is defined (VERDEF) by the library that
 *    resolved it, as dl-version.c checks (weak needs and libraries without versions pass);
 * 4. every non-weak undefined symbol of the object is defined somewhere in its link map, in the
 *    version it is bound to, looked up in the loader's order (the root, then breadth first).
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { LayerFs } from "../checks/layer-fs.js";
import {
  type DynamicObject,
  distinctDirs,
  type LinkMap,
  type Lookup,
  loadLinkMap,
  type Probe,
  type ProbeResult,
  SearchCache,
  type SearchDir,
} from "../checks/ld-search.js";
import type { LoaderInfo } from "../checks/loader.js";
import { dynamicObject } from "../checks/suite/elf-libraries.js";
import { machineArch } from "../layer/elf.js";
import type { SymbolTable, UndefinedSymbol, VersionNeed } from "../layer/elf-symbols.js";
import { type ElfRecord, type ObjectStore, statKey } from "./objects.js";
import { StringPool } from "./string-pool.js";

/** Verdicts by the digest of their inputs (impact/cache.ts's Verdicts, in memory and on disk). */
export interface VerdictMemo {
  get(key: string): Verdict | undefined;
  set(key: string, verdict: Verdict): void;
}

export type ProblemKind = "interpreter" | "needed" | "version" | "symbol";

export interface AbiProblem {
  kind: ProblemKind;
  /** The object that needs it: the checked object itself or a library in its link map. */
  by: string;
  /** What is missing: an interpreter path, a soname, `VERSION (from soname)`, `symbol@VERSION`. */
  what: string;
  /** The sentence for people. */
  message: string;
}

/** An object's verdict on one layer, as cached (cache.ts): what `check` computes, by content. */
export interface Verdict {
  problems: AbiProblem[];
  /**
   * Unversioned symbols a shared object leaves undefined in its own link map: `ldd -r` reports
   * them, but the program that loads the object may define them (a Python module's `Py*`). A
   * problem only where the published layer resolved one. Names only: a plugin has hundreds.
   */
  isolated: string[];
}

/** The problem an isolated symbol of `path` becomes where the published layer resolved it. */
export function isolatedProblem(path: string, name: string): AbiProblem {
  return { kind: "symbol", by: path, what: name, message: `${path}: undefined symbol ${name}` };
}

/** One layer as the checked objects see it. */
export interface LayerSide {
  name: "published" | "candidate";
  prefix: string;
  local: string;
  /** The namespace: the layer at its prefix, the software trees at their paths, the host. */
  fs: LayerFs;
  loader: LoaderInfo;
}

export interface RootVerdict extends Verdict {
  linkMap: LinkMap;
  /** The interpreter's path as the object names it, when it has one. */
  interpreter?: string;
}

export function problemKey(p: Pick<AbiProblem, "kind" | "by" | "what">): string {
  return `${p.kind}\0${p.by}\0${p.what}`;
}

function describeArch(bits: number, machine: number): string {
  return `ELF${bits} ${machineArch(machine) ?? `machine ${machine}`}`;
}

/** Nothing loadable at a path: one result for all of them (most paths a search probes). */
const MISSING: ProbeResult = Object.freeze({ kind: "missing" });

/** Symbol lookups remembered for this many link maps (by their members' content). */
const MAX_SCOPE_MEMOS = 64;
/** Link maps remembered for siblings (same directory and dynamic section): the most recent ones. */
const MAX_LINK_MAPS = 32;

/** One layer side's resolver: a probe over its namespace, link maps memoised by what decides them. */
export class SideAnalyzer {
  private readonly probes = new Map<string, ProbeResult>();
  private readonly linkMaps = new Map<string, LinkMap>();
  /** Per scope after its root (by its members' digests): per version (NUL for none: no version name holds one), per symbol name, whether it is defined. */
  private readonly lookups = new Map<string, Map<string, Map<string, boolean>>>();
  private readonly localOf = new Map<string, string>();
  private readonly records = new Map<string, { rec: ElfRecord; key: string }>();
  /** The text of each list of directories tried (lists are shared by the lookups that tried them: ld-search.ts). */
  private readonly triedTexts = new WeakMap<readonly SearchDir[], string>();
  private readonly searchedTexts = new StringPool();
  /** Problems of libraries not found, by the library, name and what was searched (notFound). */
  private readonly notFoundProblems = new Map<
    string,
    { rejected: Lookup["rejected"]; problem: AbiProblem }[]
  >();
  /** The loader's searches, remembered across the link maps of this side. */
  private readonly searches = new SearchCache();

  constructor(
    readonly side: LayerSide,
    private readonly store: ObjectStore,
    private readonly want: { bits: number; machine: number },
  ) {}

  /** A probe that records files it has not read yet into `pending` (and does not cache them). */
  private probe(pending: Map<string, string>): Probe {
    return (path) => {
      const hit = this.probes.get(path);
      if (hit) return hit;
      const r = this.side.fs.resolve(path);
      let result: ProbeResult;
      if (!r.ok) result = r.reason === "loop" ? { kind: "incompatible", why: "a symlink loop" } : MISSING;
      else if (r.stat.isDirectory()) result = MISSING;
      else if (!r.stat.isFile()) result = { kind: "incompatible", why: "not a regular file" };
      else {
        const key = statKey(r.stat);
        this.localOf.set(key, r.local);
        const rec = this.store.get(key);
        if (!rec) {
          pending.set(key, r.local);
          return { kind: "missing", provisional: true };
        }
        if (rec.kind === "malformed")
          result = { kind: "incompatible", why: "not an ELF object, or a truncated one" };
        else if (rec.kind === "unreadable") result = { kind: "incompatible", why: rec.why };
        else if (rec.info.bits !== this.want.bits || rec.info.machine !== this.want.machine)
          result = { kind: "incompatible", why: describeArch(rec.info.bits, rec.info.machine) };
        else result = { kind: "object", object: dynamicObject(path, rec.info), realPath: r.path, key };
      }
      this.probes.set(path, result);
      return result;
    };
  }

  /** Resolve a path to an ELF record of this side, reading it when needed. */
  async recordAt(path: string): Promise<{ rec: ElfRecord; key: string } | undefined> {
    // the interpreter of every program: its record stays while its file's state does
    const known = this.records.get(path);
    if (known && this.store.get(known.key) === known.rec) return known;
    const r = this.side.fs.resolve(path);
    if (!r.ok || !r.stat.isFile()) return undefined;
    const key = statKey(r.stat);
    this.localOf.set(key, r.local);
    const rec = await this.store.load(r.local, key);
    if (rec.kind !== "elf") return undefined;
    this.records.set(path, { rec, key });
    return { rec, key };
  }

  /**
   * What a lookup searched, as people read it: one string per distinct text (lists of other owners
   * read the same), shared by every message that says it.
   */
  private searched(l: Lookup): string {
    let text = this.triedTexts.get(l.tried);
    if (text === undefined) {
      text = this.searchedTexts.of(
        distinctDirs(l.tried)
          .map((d) => `${d.source} ${d.dir}`)
          .join(", ") || "nothing",
      );
      this.triedTexts.set(l.tried, text);
    }
    return text;
  }

  /**
   * The problem of a library not found, one object for each library, name, search and rejects: a
   * tree's missing library is missed by every program that loads what needs it, and their
   * findings share its message (held, and written out, once).
   */
  private notFound(l: Lookup): AbiProblem {
    const searched = this.searched(l);
    const key = `${l.by}\0${l.needed}\0${searched}`;
    let known = this.notFoundProblems.get(key);
    if (!known) {
      known = [];
      this.notFoundProblems.set(key, known);
    }
    for (const k of known) if (sameRejects(k.rejected, l.rejected)) return k.problem;
    const rejected =
      l.rejected.length > 0 ? `; rejected ${l.rejected.map((x) => `${x.path} (${x.why})`).join(", ")}` : "";
    const problem: AbiProblem = {
      kind: "needed",
      by: l.by,
      what: l.needed,
      message: `${l.by} needs ${l.needed}: not found (searched ${searched})${rejected}`,
    };
    known.push({ rejected: l.rejected, problem });
    return problem;
  }

  /** Where the file of a probe key is here. */
  localPath(key: string): string | undefined {
    return this.localOf.get(key);
  }

  async linkMap(
    root: { object: DynamicObject; key: string },
    preloaded: { object: DynamicObject; key: string }[],
  ): Promise<LinkMap> {
    const o = root.object;
    const memo = [
      posix.dirname(o.path),
      o.needed.join("\0"),
      o.rpath ?? "",
      o.runpath ?? "",
      o.soname ?? "",
      preloaded.map((p) => p.key).join(","),
    ].join("\u0001");
    const known = this.linkMaps.get(memo);
    if (known) {
      this.linkMaps.delete(memo);
      this.linkMaps.set(memo, known);
      return rebase(known, root);
    }
    for (let round = 0; ; round++) {
      const pending = new Map<string, string>();
      const map = loadLinkMap(
        root,
        this.probe(pending),
        this.side.loader.searchDirs,
        preloaded,
        this.searches,
      );
      if (pending.size === 0) {
        this.linkMaps.set(memo, map);
        if (this.linkMaps.size > MAX_LINK_MAPS) this.linkMaps.delete(this.linkMaps.keys().next().value!);
        return map;
      }
      if (round > 64) throw new Error("link map did not settle");
      await Promise.all([...pending].map(([key, local]) => this.store.load(local, key)));
    }
  }

  /**
   * Check one object: `rec` read from `local`, seen at `path`. Its undefined symbols are read only
   * when no verdict is known for exactly these inputs (the object and every file its link map
   * resolved, by content and path); `undefined` when the file changed while being checked.
   */
  async check(
    path: string,
    local: string,
    rec: ElfRecord,
    verdicts: VerdictMemo,
    undefinedOf: () => Promise<readonly UndefinedSymbol[] | undefined>,
  ): Promise<RootVerdict | undefined> {
    const problems: AbiProblem[] = [];
    const add = (p: AbiProblem) => problems.push(p);
    this.localOf.set(rec.key, local);
    const root = { object: dynamicObject(path, rec.info), key: rec.key };

    // The interpreter: the program's own PT_INTERP; for a library, the layer's loader (as ldd uses).
    const interpPath = rec.info.interpreter ?? this.side.loader.path;
    const interp = await this.recordAt(interpPath);
    if (rec.info.interpreter && !interp) {
      const r = this.side.fs.resolve(rec.info.interpreter);
      add({
        kind: "interpreter",
        by: path,
        what: rec.info.interpreter,
        message: `${path}: its interpreter ${rec.info.interpreter} ${r.ok ? "is not an ELF object" : "does not exist"}`,
      });
    }
    const preloaded = interp ? [{ object: dynamicObject(interpPath, interp.rec.info), key: interp.key }] : [];
    const map = await this.linkMap(root, preloaded);

    for (const l of map.lookups) if (!l.found) add(this.notFound(l));

    const records = new Map<string, ElfRecord>();
    for (const s of map.scope) {
      const r = s.key === rec.key ? rec : this.store.get(s.key);
      if (r?.kind === "elf") records.set(s.key, r);
    }
    const verdictKey = this.verdictKey(path, rec, interp?.rec, map, problems);
    const known = verdicts.get(verdictKey);
    if (known) return { ...known, linkMap: map, interpreter: rec.info.interpreter };
    const isolated = new Set<string>();
    const done = (): RootVerdict => {
      const out: Verdict = { problems: dedupe(problems), isolated: [...isolated].sort() };
      verdicts.set(verdictKey, out);
      return { ...out, linkMap: map, interpreter: rec.info.interpreter };
    };

    // Versions every object of the link map needs from the libraries that resolved its DT_NEEDED.
    const providers = providerIndex(map);
    const missingVersions = new Set<string>();
    const unresolvedFiles = new Set<string>();
    for (const s of map.scope) {
      const r = records.get(s.key);
      if (!r) continue;
      for (const need of r.needs) {
        const target = providers(s.object, need.file);
        if (!target) {
          if (s.key === rec.key) unresolvedFiles.add(need.file);
          continue;
        }
        const defines = records.get(target.key)?.defines;
        if (!defines) continue; // a library without versions satisfies every version need
        for (const name of missingVersionsOf(need, defines)) {
          if (s.key === rec.key) missingVersions.add(`${name}\0${need.file}`);
          add({
            kind: "version",
            by: s.object.path,
            what: `${name} (${need.file})`,
            message: `${s.object.path} needs version ${name} of ${need.file}, which ${target.path} does not define`,
          });
        }
      }
    }

    // Undefined symbols of the object itself, looked up through the link map. The loader stops at
    // a library it cannot find before it binds any symbol: nothing more to say then.
    if (problems.some((p) => p.kind === "needed")) return done();
    const undefinedSymbols = await undefinedOf();
    if (!undefinedSymbols) return undefined;
    // most tables are kept from their record's read: taken as they are, only the others awaited
    const tables: (SymbolTable | undefined)[] = new Array(map.scope.length);
    const reading: Promise<void>[] = [];
    let changed = false;
    map.scope.forEach((s, i) => {
      const r = records.get(s.key);
      const local = this.localOf.get(s.key);
      if (!r || !local) return;
      const kept = this.store.keptTable(r);
      if (kept !== undefined) tables[i] = kept ?? undefined;
      else
        reading.push(
          this.store.table(r, local).then((t) => {
            if (t === undefined) changed = true;
            tables[i] = t ?? undefined;
          }),
        );
    });
    if (reading.length > 0) await Promise.all(reading);
    // a library changed since it was read: no verdict (and nothing remembered) from its old content
    if (changed) return undefined;
    // The lookups in the scope after the object itself are remembered for its siblings: the
    // programs of a directory, linked alike, share everything but themselves.
    const rest = tables.slice(1);
    const scopeId = createHash("sha256")
      .update(
        map.scope
          .slice(1)
          .map((s) => records.get(s.key)?.digest ?? s.key)
          .join(","),
      )
      .digest("base64");
    let memo = this.lookups.get(scopeId);
    if (memo) this.lookups.delete(scopeId);
    else memo = new Map();
    // the most recently used scopes only: thousands of them held every symbol name
    this.lookups.set(scopeId, memo);
    if (this.lookups.size > MAX_SCOPE_MEMOS) this.lookups.delete(this.lookups.keys().next().value!);
    const own = tables[0];
    for (const ref of undefinedSymbols) {
      if (ref.weak) continue;
      if (
        ref.file &&
        (unresolvedFiles.has(ref.file) ||
          (missingVersions.size > 0 && missingVersions.has(`${ref.version}\0${ref.file}`)))
      )
        continue;
      if (own?.defines(ref.name, ref.version)) continue;
      // by version, then name: no "name@version" string built for each of a scope's thousands of lookups
      let byName = memo.get(ref.version ?? "\0");
      if (!byName) {
        byName = new Map();
        memo.set(ref.version ?? "\0", byName);
      }
      let found = byName.get(ref.name);
      if (found === undefined) {
        found = definedIn(rest, ref) !== undefined;
        byName.set(ref.name, found);
      }
      if (found) continue;
      const id = ref.version ? `${ref.name}@${ref.version}` : ref.name;
      if (ref.version === undefined && rec.info.interpreter === undefined) {
        isolated.add(printable(id));
        continue;
      }
      add({
        kind: "symbol",
        by: path,
        what: printable(id),
        message: `${path}: undefined symbol ${printable(ref.name)}${ref.version ? `, version ${ref.version}${ref.file ? ` (${ref.file})` : ""}` : ""}`,
      });
    }
    return done();
  }

  /** sha256 of everything a verdict depends on: the same inputs give the same verdict. */
  private verdictKey(
    path: string,
    rec: ElfRecord,
    interp: ElfRecord | undefined,
    map: LinkMap,
    early: readonly AbiProblem[],
  ): string {
    // one string, hashed once: thousands of small updates cost more than the hashing
    const parts: string[] = [];
    const put = (...p: string[]) => {
      parts.push(...p);
    };
    const digestOf = (key: string) => {
      const r = key === rec.key ? rec : this.store.get(key);
      return r?.kind === "elf" ? r.digest : key;
    };
    put(path, rec.digest, interp?.digest ?? "-", this.side.loader.searchDirs.join(":"));
    for (const p of early) put(p.kind, p.what);
    // What each search of the namespace gave. A name found among those already loaded is not
    // put: which are loaded follows from the rest (the scope below, the searches, the dynamic sections).
    for (const l of map.lookups) {
      if (l.found?.via === "loaded") continue;
      put(l.by, l.needed, l.found?.path ?? "-", l.found ? digestOf(l.found.key) : "-");
      for (const r of l.rejected) put(r.path, r.why);
    }
    for (const s of map.scope) put(s.object.path, digestOf(s.key));
    return createHash("sha256").update(parts.join("\0")).digest("hex");
  }

  /** The object of a link map that defines a symbol (for saying who provided it), by scope index. */
  async definer(map: LinkMap, ref: Pick<UndefinedSymbol, "name" | "version">): Promise<string | undefined> {
    for (const s of map.scope) {
      const r = this.store.get(s.key);
      const local = this.localOf.get(s.key);
      if (r?.kind !== "elf" || !local) continue;
      const t = await this.store.table(r, local);
      if (t?.defines(ref.name, ref.version)) return s.object.path;
    }
    return undefined;
  }
}

/** The version names of each library's VERDEF, as a set (by the record's array). */
const definedSets = new WeakMap<readonly string[], ReadonlySet<string>>();
const NONE: readonly string[] = Object.freeze([]);

/** The versions of a need (not weak) a library's VERDEF lacks. */
function missingVersionsOf(need: VersionNeed, defines: readonly string[]): readonly string[] {
  let defined = definedSets.get(defines);
  if (!defined) {
    defined = new Set(defines);
    definedSets.set(defines, defined);
  }
  if (need.versions.every((v) => v.weak || defined.has(v.name))) return NONE;
  return need.versions.filter((v) => !v.weak && !defined.has(v.name)).map((v) => v.name);
}

/** The first table in scope order defining the symbol (index), or undefined. */
function definedIn(tables: readonly (SymbolTable | undefined)[], ref: UndefinedSymbol): number | undefined {
  for (let i = 0; i < tables.length; i++) if (tables[i]?.defines(ref.name, ref.version)) return i;
  return undefined;
}

/** The loaded object a version need's file names: the lookup of that DT_NEEDED, else any object by SONAME. */
/**
 * Which object of the link map satisfies `file` for `by`: the library its DT_NEEDED lookup found,
 * else one already loaded under that soname or file name. Indexed once per link map: a large map
 * (hundreds of libraries, thousands of lookups) is asked for every version need of every member.
 */
function providerIndex(
  map: LinkMap,
): (by: DynamicObject, file: string) => { key: string; path: string } | undefined {
  const byLookup = new Map<string, Map<string, { key: string; path: string }>>();
  for (const l of map.lookups) {
    if (!l.found) continue;
    let mine = byLookup.get(l.by);
    if (!mine) {
      mine = new Map();
      byLookup.set(l.by, mine);
    }
    if (!mine.has(l.needed)) mine.set(l.needed, l.found);
  }
  const byName = new Map<string, { key: string; path: string }>();
  for (const x of map.scope)
    for (const name of [x.object.soname, posix.basename(x.object.path)])
      if (name !== undefined && !byName.has(name)) byName.set(name, { key: x.key, path: x.object.path });
  return (by, file) => byLookup.get(by.path)?.get(file) ?? byName.get(file);
}

/** A memoised link map of a sibling object (same directory and dynamic section) with this root. */
function rebase(map: LinkMap, root: { object: DynamicObject; key: string }): LinkMap {
  const oldRoot = map.scope[0]!;
  if (oldRoot.key === root.key) return map;
  const swap = (p: string) => (p === oldRoot.object.path ? root.object.path : p);
  return {
    scope: map.scope.map((s) => (s.key === oldRoot.key ? root : s)),
    lookups: map.lookups.map((l) => ({
      ...l,
      by: swap(l.by),
      found:
        l.found && l.found.key === oldRoot.key
          ? { ...l.found, key: root.key, path: root.object.path }
          : l.found,
    })),
  };
}

function dedupe(problems: AbiProblem[]): AbiProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = problemKey(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function sameRejects(a: Lookup["rejected"], b: Lookup["rejected"]): boolean {
  return (
    a === b || (a.length === b.length && a.every((x, i) => x.path === b[i]!.path && x.why === b[i]!.why))
  );
}

/** Symbol names are bytes: show what is not printable ASCII escaped. */
function printable(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
