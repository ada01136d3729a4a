/**
 * The layer's namespace as its programs see it: paths under the prefix (and, for a layer in a local
 * repository root, under /cvmfs/<repository>) map to where the files are on this machine; other
 * absolute paths are the host's. Symlinks are followed component by component inside that
 * namespace, so an absolute link `$EPREFIX/lib64 -> $EPREFIX/usr/lib64` resolves even when the
 * layer is not at its real path. Reads are synchronous and cached: one resolution costs a few
 * lstat calls, and checks resolve thousands.
 */
import { type BigIntStats, type Dir, lstatSync, opendirSync, readlinkSync } from "node:fs";
import { posix } from "node:path";
import { readRegularFileSync } from "../paths/regular-file.js";

export type Region = "prefix" | "repository" | "bind" | "host" | "void";

export interface LayerMapping {
  /** The layer's EPREFIX (its real path). */
  prefix: string;
  /** Where the prefix's files are here. */
  localPrefix: string;
  /** A local repository root standing for `/cvmfs/<repository>`. */
  repository?: { mount: string; root: string };
  /** Other directories shown at a path of their own (a software tree beside the layer), as sandbox binds. */
  binds?: { at: string; local: string }[];
  /** Seen from the sandbox even when the layer is at its real path: /cvmfs holds only what is mapped. */
  sandboxed?: boolean;
}

export type Resolution =
  | { ok: true; path: string; local: string; stat: BigIntStats }
  | { ok: false; path: string; missing: string; reason: "missing" | "loop" | "not-a-directory" };

const MAX_LINKS = 40;
/** Names a directory is asked for in vain before it is listed (then the listing answers). */
const LIST_AFTER_MISSES = 16;
/** Names held for one directory at most (a distribution's largest library dir has a few thousand). */
const MAX_LISTING = 65_536;

export class LayerFs {
  readonly prefix: string;
  private readonly statCache = new Map<string, BigIntStats | null>();
  private readonly linkCache = new Map<string, string>();
  private mountPaths: string[] | undefined;
  private readonly misses = new Map<string, number>();
  private readonly listings = new Map<string, Set<string> | null>();

  constructor(readonly mapping: LayerMapping) {
    this.prefix = mapping.prefix;
  }

  /** Which part of the namespace an absolute path is in. */
  region(path: string): Region {
    if (isUnder(path, this.mapping.prefix)) return "prefix";
    if (this.mapping.repository && isUnder(path, this.mapping.repository.mount)) return "repository";
    if (this.bindOf(path)) return "bind";
    // The sandbox shows an empty /cvmfs apart from the layer's repository (or prefix).
    if (
      isUnder(path, "/cvmfs") &&
      (this.mapping.localPrefix !== this.mapping.prefix || this.mapping.sandboxed)
    )
      return "void";
    return "host";
  }

  private bindOf(path: string): { at: string; local: string } | undefined {
    return this.mapping.binds?.find((b) => isUnder(path, b.at));
  }

  /** Is the path inside the prefix (the prefix itself included)? */
  inPrefix(path: string): boolean {
    return isUnder(path, this.prefix);
  }

  /** Where a namespace path is on this machine; undefined for paths that do not exist anywhere. */
  local(path: string): string | undefined {
    const m = this.mapping;
    switch (this.region(path)) {
      case "prefix":
        return m.localPrefix + path.slice(m.prefix.length);
      case "repository":
        return m.repository!.root + path.slice(m.repository!.mount.length);
      case "bind": {
        const b = this.bindOf(path)!;
        return b.local + path.slice(b.at.length);
      }
      case "host":
        return path;
      default:
        return undefined;
    }
  }

  /** The path relative to the prefix (`usr/bin/bash`), or the path itself when outside. */
  rel(path: string): string {
    if (path === this.prefix) return ".";
    return this.inPrefix(path) ? path.slice(this.prefix.length + 1) : path;
  }

  /** The namespace path of a path relative to the prefix. */
  abs(rel: string): string {
    return rel === "." || rel === "" ? this.prefix : posix.join(this.prefix, rel);
  }

  /** lstat of a namespace path (no link followed), cached; null when it does not exist. */
  lstat(path: string): BigIntStats | null {
    const cached = this.statCache.get(path);
    if (cached !== undefined) return cached;
    const local = this.local(path);
    let st: BigIntStats | null = null;
    if (local !== undefined && !this.surelyAbsent(local)) {
      try {
        st = lstatSync(local, { bigint: true });
      } catch (e) {
        st = null;
        if ((e as NodeJS.ErrnoException).code === "ENOENT") this.missedIn(local);
      }
    }
    this.statCache.set(path, st);
    return st;
  }

  /**
   * A name not in its directory's listing, once that directory was listed: a loader's search asks
   * each library dir for thousands of names it does not hold, and one listing answers them all.
   */
  private surelyAbsent(local: string): boolean {
    const cut = local.lastIndexOf("/");
    const listing = this.listings.get(local.slice(0, cut));
    return listing !== undefined && listing !== null && !listing.has(local.slice(cut + 1));
  }

  /** Count a missing name of a directory; list the directory once it has missed often enough. */
  private missedIn(local: string): void {
    const dir = local.slice(0, local.lastIndexOf("/"));
    if (this.listings.has(dir)) return;
    const n = (this.misses.get(dir) ?? 0) + 1;
    this.misses.set(dir, n);
    if (n < LIST_AFTER_MISSES) return;
    let listing: Set<string> | null = new Set();
    let handle: Dir | undefined;
    try {
      handle = opendirSync(dir === "" ? "/" : dir);
      for (let d = handle.readSync(); d !== null; d = handle.readSync()) {
        // a directory of millions of names (a hostile tree) is asked name by name instead
        if (listing.size >= MAX_LISTING) {
          listing = null;
          break;
        }
        listing.add(d.name);
      }
    } catch {
      listing = null; // not listable: ask the file system name by name
    } finally {
      handle?.closeSync();
    }
    this.listings.set(dir, listing);
    this.misses.delete(dir);
  }

  readlink(path: string): string {
    let t = this.linkCache.get(path);
    if (t === undefined) {
      t = readlinkSync(this.local(path)!, "utf8");
      this.linkCache.set(path, t);
    }
    return t;
  }

  /**
   * Follow symlinks in every component of `path` (and in the last one too, unless `followLast` is
   * false), as the kernel does for a process inside the layer.
   */
  resolve(path: string, followLast = true): Resolution {
    const state = { links: 0 };
    return this.walk(posix.normalize(path), followLast, state);
  }

  private walk(path: string, followLast: boolean, state: { links: number }): Resolution {
    const parts = path.split("/").filter(Boolean);
    let cur = "/";
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === ".") continue;
      if (part === "..") {
        cur = posix.dirname(cur);
        continue;
      }
      const next = cur === "/" ? `/${part}` : `${cur}/${part}`;
      if (this.isMountAncestor(next)) {
        cur = next;
        continue;
      }
      const st = this.lstat(next);
      if (!st) return { ok: false, path, missing: next, reason: "missing" };
      const last = i === parts.length - 1;
      if (st.isSymbolicLink() && (!last || followLast)) {
        if (++state.links > MAX_LINKS) return { ok: false, path, missing: next, reason: "loop" };
        const target = this.readlink(next);
        const joined = target.startsWith("/") ? target : posix.join(cur, target);
        const r = this.walk(posix.normalize(joined), true, state);
        if (!r.ok) return { ...r, path };
        cur = r.path;
        if (!last && !r.stat.isDirectory())
          return { ok: false, path, missing: cur, reason: "not-a-directory" };
        continue;
      }
      if (!last && !st.isDirectory()) return { ok: false, path, missing: next, reason: "not-a-directory" };
      cur = next;
    }
    const st = this.lstat(cur);
    if (!st) return { ok: false, path, missing: cur, reason: "missing" };
    return { ok: true, path: cur, local: this.local(cur)!, stat: st };
  }

  /** A directory above the mounted layer (e.g. `/cvmfs` in the sandbox): it exists there as a plain directory. */
  private isMountAncestor(path: string): boolean {
    return this.mounts.some((mount) => mount !== path && isUnder(mount, path));
  }

  /** Where something is shown at a path of its own (asked for every component of every path resolved). */
  private get mounts(): readonly string[] {
    if (!this.mountPaths) {
      const mounts = (this.mapping.binds ?? []).filter((b) => b.at !== b.local).map((b) => b.at);
      if (this.mapping.localPrefix !== this.mapping.prefix || this.mapping.sandboxed)
        mounts.push(this.mapping.repository?.mount ?? this.mapping.prefix);
      this.mountPaths = mounts;
    }
    return this.mountPaths;
  }

  /**
   * Read a file of the layer (links followed); undefined when it does not exist. The checks read
   * configuration and records: a file larger than any of those is refused, not read whole.
   */
  readText(path: string): string | undefined {
    const r = this.resolve(path);
    if (!r.ok || !r.stat.isFile()) return undefined;
    if (r.stat.size > MAX_TEXT_BYTES)
      throw new Error(
        `${path}: ${r.stat.size} bytes, more than the ${MAX_TEXT_BYTES} a file the checks read may have`,
      );
    return readRegularFileSync(r.local, MAX_TEXT_BYTES);
  }

  exists(path: string): boolean {
    return this.resolve(path).ok;
  }
}

const MAX_TEXT_BYTES = 16 * 1024 * 1024;

export function isUnder(path: string, dir: string): boolean {
  if (dir === "/") return path.startsWith("/");
  return path === dir || path.startsWith(`${dir}/`);
}
