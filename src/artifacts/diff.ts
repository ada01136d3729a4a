/**
 * Differences between two layers: packages added, removed, upgraded and downgraded (versions
 * compared with the rules of the package database they come from) and files added, removed and
 * changed with the bytes involved. Each side is a prefix, an artifact or a package list.
 */
import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { packageVersions, parseRecordedBuildRoot, type RecordedBuildRoot } from "../buildroot/record.js";
import { InputError } from "../errors.js";
import {
  compareInstalledVersions,
  type InstalledPackage,
  type InstalledPackages,
  packageKey,
  readInstalledPackages,
} from "../flavors/installed.js";
import { parsePackageList as parseQlistPackages } from "../gentoo/qlist.js";
import { readBuildRecord } from "./build-record.js";
import { type EntryIndex, indexArtifact, indexTree } from "./entry-index.js";
import { manifestSchema, readManifest } from "./manifest.js";
import { manifestPathFor } from "./name.js";

export interface LayerSide {
  source: string;
  kind: "prefix" | "artifact" | "package-list";
  packages?: InstalledPackages;
  index?: EntryIndex;
  /** The layer's CPU family, when its manifest names it. */
  arch?: string;
  /** The build root its build record names (undefined: built on the host's userland, or no record). */
  buildRoot?: RecordedBuildRoot;
}

/** How the build roots of two layers' builds differ (their identities, and the packages that make it). */
export interface BuildRootDiff {
  a: Omit<RecordedBuildRoot, "packages"> | null;
  b: Omit<RecordedBuildRoot, "packages"> | null;
  /** Packages added, removed or changed in version (dpkg order): empty when one side had none. */
  packages: PackageDiff;
}

export interface VersionChange {
  name: string;
  from: string;
  to: string;
}

export interface PackageDiff {
  database: InstalledPackages["database"];
  added: InstalledPackage[];
  removed: InstalledPackage[];
  upgraded: VersionChange[];
  downgraded: VersionChange[];
  unchanged: number;
}

export interface FileDiff {
  added: string[];
  removed: string[];
  changed: string[];
  bytesAdded: number;
  bytesRemoved: number;
  /** Content bytes of changed files on the B side. */
  bytesChanged: number;
}

export interface LayerDiff {
  a: string;
  b: string;
  packages: PackageDiff | null;
  files: FileDiff | null;
  /** Present when the build records name different build roots (or only one names one). */
  buildRoot?: BuildRootDiff;
  /** Why a part could not be compared (e.g. package lists carry no files). */
  notes: string[];
}

/**
 * Parse a package list: a manifest's packages, a Gentoo `qlist -IRv` list, or dpkg's
 * `name[:arch] version` lines (a debian layer's reprod packages.txt).
 */
export function parsePackageList(path: string, text: string): InstalledPackages {
  if (text.trimStart().startsWith("{")) {
    const parsed = manifestSchema.safeParse(JSON.parse(text));
    if (!parsed.success || !parsed.data.packages || !parsed.data.packageDatabase)
      throw new InputError(`${path}: a JSON file that is not an artifact manifest with packages`);
    return { database: parsed.data.packageDatabase, packages: parsed.data.packages };
  }
  const first = text.split("\n").find((l) => l.trim() && !l.trim().startsWith("#"));
  if (first?.split(/\s+/)[0]?.includes("/")) {
    // `category/name-version[::repo]` lines: a Gentoo `qlist -IRv` list.
    const { packages, problems } = parseQlistPackages(text, path);
    if (problems.length > 0)
      throw new InputError(
        `${path}: not a package list (${problems.length} bad line${problems.length === 1 ? "" : "s"})`,
        {
          details: problems.slice(0, 10).map((p) => `${path}:${p.line}: ${p.message}`),
        },
      );
    return {
      database: "vardb",
      packages: packages.map((p) => ({
        name: p.cp,
        version: p.version,
        ...(p.slot ? { slot: p.slot } : {}),
      })),
    };
  }
  const packages: InstalledPackage[] = [];
  text.split("\n").forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith("#")) return;
    const m = /^([a-z0-9][a-z0-9+.-]+)(?::([a-z0-9-]+))?\s+(\S+)$/.exec(l);
    if (!m)
      throw new InputError(`${path}:${i + 1}: not a package line: ${l}`, {
        hint: "expected `name[:arch] version` (dpkg), as in a layer's reprod/<stamp>/packages.txt",
      });
    packages.push({ name: m[1]!, version: m[3]!, ...(m[2] ? { arch: m[2] } : {}) });
  });
  return { database: "dpkg", packages };
}

const ARTIFACT_RE = /\.tar\.(zst|gz)$/;

export async function loadSide(source: string): Promise<LayerSide> {
  let st: import("node:fs").Stats;
  try {
    st = statSync(source);
  } catch {
    throw new InputError(`${source}: no such file or directory`, {
      hint: "compare prefixes (directories), artifacts (.tar.zst/.tar.gz) or package lists",
    });
  }
  if (st.isDirectory()) {
    const buildRoot = parseRecordedBuildRoot(readBuildRecord(source)?.record.buildRoot);
    return {
      source,
      kind: "prefix",
      index: indexTree(source),
      packages: await readInstalledPackages(source),
      ...(buildRoot ? { buildRoot } : {}),
    };
  }
  if (ARTIFACT_RE.test(basename(source))) {
    const { index } = await indexArtifact(source);
    let packages: InstalledPackages | undefined;
    let arch: string | undefined;
    let buildRoot: RecordedBuildRoot | undefined;
    try {
      // read as verify reads it: a regular file, capped (a FIFO or a huge file beside an artifact must not hang or fill memory)
      const m = (await readManifest(manifestPathFor(source))).manifest;
      if (m.packageDatabase && m.packages) packages = { database: m.packageDatabase, packages: m.packages };
      arch = m.arch;
      const record = m.buildRecord;
      if (record && typeof record === "object")
        buildRoot = parseRecordedBuildRoot(Reflect.get(record, "buildRoot"));
    } catch {
      /* no manifest beside it: files only */
    }
    return {
      source,
      kind: "artifact",
      index,
      packages,
      ...(arch ? { arch } : {}),
      ...(buildRoot ? { buildRoot } : {}),
    };
  }
  return { source, kind: "package-list", packages: parsePackageList(source, readFileSync(source, "utf8")) };
}

export function diffPackages(a: InstalledPackages, b: InstalledPackages): PackageDiff {
  const before = new Map(a.packages.map((p) => [packageKey(p), p]));
  const after = new Map(b.packages.map((p) => [packageKey(p), p]));
  const d: PackageDiff = {
    database: b.database,
    added: [],
    removed: [],
    upgraded: [],
    downgraded: [],
    unchanged: 0,
  };
  for (const [key, p] of after) {
    const old = before.get(key);
    if (!old) d.added.push(p);
    else {
      const c = compareInstalledVersions(b.database, old.version, p.version);
      if (c < 0) d.upgraded.push({ name: key, from: old.version, to: p.version });
      else if (c > 0) d.downgraded.push({ name: key, from: old.version, to: p.version });
      else d.unchanged++;
    }
  }
  for (const [key, p] of before) if (!after.has(key)) d.removed.push(p);
  return d;
}

export function diffIndexes(a: EntryIndex, b: EntryIndex): FileDiff {
  const d: FileDiff = {
    added: [],
    removed: [],
    changed: [],
    bytesAdded: 0,
    bytesRemoved: 0,
    bytesChanged: 0,
  };
  for (const [rel, e] of b) {
    if (rel === "") continue;
    const old = a.get(rel);
    if (!old) {
      d.added.push(rel);
      d.bytesAdded += e.size;
    } else if (old.type !== e.type || old.mode !== e.mode || old.digest !== e.digest) {
      d.changed.push(rel);
      d.bytesChanged += e.size;
    }
  }
  for (const [rel, e] of a)
    if (rel !== "" && !b.has(rel)) {
      d.removed.push(rel);
      d.bytesRemoved += e.size;
    }
  for (const list of [d.added, d.removed, d.changed]) list.sort();
  return d;
}

/** The architecture most of a side's packages are built for (Debian's `all` aside), when they say. */
function packagesArch(side: LayerSide): string | undefined {
  const counts = new Map<string, number>();
  for (const p of side.packages?.packages ?? [])
    if (p.arch && p.arch !== "all") counts.set(p.arch, (counts.get(p.arch) ?? 0) + 1);
  return [...counts].sort((x, y) => y[1] - x[1])[0]?.[0];
}

/** Two layers of different CPU families: every package differs by its arch, which says nothing. */
function acrossArches(a: LayerSide, b: LayerSide): string | undefined {
  const [x, y] = a.arch && b.arch ? [a.arch, b.arch] : [packagesArch(a), packagesArch(b)];
  if (!x || !y || x === y) return undefined;
  return `${a.source} is ${x}, ${b.source} is ${y}: across CPU families every package differs by its arch; compare them with compat diff --arches ${a.source} ${b.source}`;
}

export function diffLayers(a: LayerSide, b: LayerSide): LayerDiff {
  const notes: string[] = [];
  const arches = acrossArches(a, b);
  if (arches) notes.push(arches);
  let packages: PackageDiff | null = null;
  if (a.packages && b.packages) {
    if (a.packages.database !== b.packages.database)
      notes.push(
        `packages not compared: ${a.source} has a ${a.packages.database} database, ${b.source} a ${b.packages.database} one`,
      );
    else packages = diffPackages(a.packages, b.packages);
  } else notes.push(`packages not compared: no package database in ${(a.packages ? b : a).source}`);
  let files: FileDiff | null = null;
  if (a.index && b.index) files = diffIndexes(a.index, b.index);
  else notes.push(`files not compared: ${(a.index ? b : a).source} is a package list`);
  const buildRoot = diffBuildRoots(a.buildRoot, b.buildRoot);
  return { a: a.source, b: b.source, packages, files, ...(buildRoot ? { buildRoot } : {}), notes };
}

/** The build roots two builds ran in, when they are not the same one (undefined: same, or neither had one). */
export function diffBuildRoots(
  a: RecordedBuildRoot | undefined,
  b: RecordedBuildRoot | undefined,
): BuildRootDiff | undefined {
  if (a?.identity === b?.identity) return undefined;
  const asInstalled = (r: RecordedBuildRoot | undefined): InstalledPackages => ({
    database: "dpkg",
    packages: r ? [...packageVersions(r)].map(([name, version]) => ({ name, version })) : [],
  });
  const head = (r: RecordedBuildRoot | undefined) =>
    r ? { identity: r.identity, suite: r.suite, arch: r.arch } : null;
  return { a: head(a), b: head(b), packages: diffPackages(asInstalled(a), asInstalled(b)) };
}

export function hasDifferences(d: LayerDiff): boolean {
  const p = d.packages;
  const f = d.files;
  return Boolean(
    (p && (p.added.length || p.removed.length || p.upgraded.length || p.downgraded.length)) ||
      (f && (f.added.length || f.removed.length || f.changed.length)) ||
      d.buildRoot,
  );
}

/** One path that differs between two builds, and how. */
export interface DifferingEntry {
  path: string;
  /** "only in A", "only in B", "type", "mode", "content" (or a symlink's target), "mtime" */
  differs: string[];
}

/**
 * Every entry that makes two artifacts of the same layer differ, as a reproducibility check needs
 * them: diffIndexes' changes plus what it leaves out on purpose (mtimes), sorted by path.
 */
export function differingEntries(a: EntryIndex, b: EntryIndex): DifferingEntry[] {
  const out = new Map<string, string[]>();
  const add = (path: string, what: string) => out.set(path, [...(out.get(path) ?? []), what]);
  for (const [path, x] of a) {
    const y = b.get(path);
    if (!y) {
      add(path, "only in A");
      continue;
    }
    if (x.type !== y.type) add(path, "type");
    if (x.mode !== y.mode) add(path, "mode");
    if (x.type === y.type && x.digest !== y.digest) add(path, x.type === "symlink" ? "target" : "content");
    if (x.mtime !== y.mtime) add(path, "mtime");
  }
  for (const path of b.keys()) if (!a.has(path)) add(path, "only in B");
  return [...out]
    .sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0))
    .map(([path, differs]) => ({ path: path || ".", differs }));
}
