/**
 * The installed-package database, `$EPREFIX/var/db/pkg/<category>/<PF>/` (portage
 * dbapi/vartree.py). Entries are enumerated from directory names like Portage does; their
 * metadata comes from the per-field files, or from Portage 3.0.82's consolidated `metadata`
 * file when that is a trustworthy snapshot (`#format=1` and `#dir_mtime=` equal to the
 * directory's mtime in nanoseconds). A corrupt or partial entry is reported with its path and
 * skipped; it never stops the reader. CONTENTS is read only when asked for.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { resolveInside } from "../paths/inside.js";
import { readRegularFileSync } from "../paths/regular-file.js";
import { type ContentsEntry, parseContents } from "./contents.js";
import { parseCpv } from "./cpv.js";
import type { PackageCandidate } from "./match.js";

export const VDB_PATH = "var/db/pkg";

/** An installed package, from a vdb entry or a package list. */
export interface InstalledPackage extends PackageCandidate {
  /** `category/name-version[-rN]` */
  cpv: string;
  category: string;
  name: string;
  /** `category/name` */
  cp: string;
  /** Version with revision when the entry spells one. */
  version: string;
  /** SLOT without the sub-slot; undefined when the source does not say (a plain package list). */
  slot?: string;
  subSlot?: string;
  /** The repository the package came from (`gentoo`, an overlay), when known. */
  repo?: string | null;
  eapi?: string;
  use?: string[];
  iuse?: string[];
  keywords?: string[];
  buildTime?: number;
  counter?: number;
  /** Where it was read: the vdb entry directory, or `file:line` of a list. */
  source: string;
}

/** A vdb entry's files, read on demand. */
export interface VardbPackage extends InstalledPackage {
  slot: string;
  subSlot: string;
  /** Parsed CONTENTS (read and cached on first call). */
  contents(): ContentsEntry[];
}

export interface VardbProblem {
  path: string;
  message: string;
}

/** One `<category>/<PF>` directory, known from its name only. */
export interface VardbEntry {
  cpv: string;
  cp: string;
  path: string;
}

/** The metadata fields read from an entry. */
export const VARDB_FIELDS = [
  "CATEGORY",
  "PF",
  "SLOT",
  "repository",
  "EAPI",
  "USE",
  "IUSE",
  "KEYWORDS",
  "BUILD_TIME",
  "COUNTER",
] as const;
export type VardbField = (typeof VARDB_FIELDS)[number];

// Fields the consolidated `metadata` file carries (portage _METADATA_FILE_FIELDS).
const METADATA_FILE_FIELDS = new Set([
  "BDEPEND",
  "BUILD_ID",
  "BUILD_TIME",
  "CHOST",
  "COUNTER",
  "DEFINED_PHASES",
  "DEPEND",
  "DESCRIPTION",
  "EAPI",
  "HOMEPAGE",
  "IDEPEND",
  "IUSE",
  "KEYWORDS",
  "LICENSE",
  "PDEPEND",
  "PROPERTIES",
  "PROVIDES",
  "RDEPEND",
  "REQUIRES",
  "RESTRICT",
  "SLOT",
  "USE",
  "repository",
]);

const EXCLUDED_NAME_RE = /^(\..*|-MERGING-.*|CVS|lost\+found)$/;
const CATEGORY_DIR_RE = /^\w[-.+\w]*$/;
const SLOT_RE = /^[\w][\w+.-]*(?:\/[\w][\w+.-]*)?$/;

/**
 * The vdb directory of a prefix (or the directory itself when it already is one). A symlinked
 * `var`, `var/db` or `var/db/pkg` is followed inside the prefix only: one that leads out (to the
 * host's /var/db/pkg, say) would make another system's packages the layer's; UnsafePathError.
 */
export function vardbDirectory(prefixOrVdb: string): string {
  const inPrefix = resolveInside({ base: prefixOrVdb, what: `${prefixOrVdb}: the vardb` }, VDB_PATH);
  return existsSync(inPrefix) ? inPrefix : prefixOrVdb;
}

/** Enumerate entries by name (no metadata is read). */
export function listVardb(vdb: string): { entries: VardbEntry[]; problems: VardbProblem[] } {
  const entries: VardbEntry[] = [];
  const problems: VardbProblem[] = [];
  let categories: import("node:fs").Dirent[];
  try {
    categories = readdirSync(vdb, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch (e) {
    return { entries, problems: [{ path: vdb, message: `cannot read: ${(e as Error).message}` }] };
  }
  for (const c of categories) {
    const category = c.name;
    if (EXCLUDED_NAME_RE.test(category) || !c.isDirectory()) continue;
    const catPath = join(vdb, category);
    if (!CATEGORY_DIR_RE.test(category)) {
      problems.push({ path: catPath, message: "not a category name; its entries are skipped" });
      continue;
    }
    let names: import("node:fs").Dirent[];
    try {
      names = readdirSync(catPath, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch (e) {
      problems.push({ path: catPath, message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    for (const d of names) {
      const pf = d.name;
      if (EXCLUDED_NAME_RE.test(pf)) continue;
      const path = `${catPath}/${pf}`;
      if (!d.isDirectory()) {
        problems.push({
          path,
          message: `not a directory (${d.isSymbolicLink() ? "a symlink: an entry is never one, and it would be read from wherever it points" : "an entry is a directory"}); skipped`,
        });
        continue;
      }
      const cpv = parseCpv(`${category}/${pf}`);
      if (!cpv) {
        problems.push({
          path,
          message: "invalid entry: the directory name is not <name>-<version>; skipped",
        });
        continue;
      }
      entries.push({ cpv: cpv.cpv, cp: cpv.cp, path });
    }
  }
  return { entries, problems };
}

/** Thrown for an entry that cannot be read as a package; the message names what is wrong. */
export class VardbEntryError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.name = "VardbEntryError";
    this.path = path;
  }
}

/** Portage 3.0.82's `metadata` file, when it is a snapshot Portage itself would trust. */
function readMetadataFile(dir: string): Map<string, string> | undefined {
  let text: string;
  try {
    text = readVdbFile(`${dir}/metadata`);
  } catch {
    return undefined;
  }
  const values = new Map<string, string>();
  let format: number | undefined;
  let dirMtime: bigint | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) {
      if (line.startsWith("#format=")) {
        format = Number(line.slice(8));
        if (format !== 1) return undefined;
      } else if (line.startsWith("#dir_mtime=")) {
        if (!/^\d+$/.test(line.slice(11))) return undefined;
        dirMtime = BigInt(line.slice(11));
      }
      continue;
    }
    const eq = line.indexOf("=");
    if (eq !== -1) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  if (format === undefined || dirMtime === undefined) return undefined;
  try {
    if (statSync(dir, { bigint: true }).mtimeNs !== dirMtime) return undefined;
  } catch {
    return undefined;
  }
  return values;
}

/**
 * Far more than any entry's file (a CONTENTS of a whole TeX Live is a few MB). Portage writes
 * only regular files into the vdb: a FIFO would block the read, a device never end, and a
 * symlink would read the host's file into a report.
 */
const MAX_VDB_FILE_BYTES = 64 * 1024 * 1024;
const readVdbFile = (path: string): string =>
  readRegularFileSync(path, MAX_VDB_FILE_BYTES, { noFollow: true });

function readField(
  dir: string,
  field: string,
  snapshot: Map<string, string> | undefined,
): string | undefined {
  if (snapshot && METADATA_FILE_FIELDS.has(field)) return snapshot.get(field) ?? "";
  try {
    return readVdbFile(`${dir}/${field}`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      if (!existsSync(dir)) throw new VardbEntryError(dir, "cannot read: it is gone");
      return undefined;
    }
    if (code === "ENOTDIR") throw new VardbEntryError(dir, "not a directory");
    throw new VardbEntryError(dir, `cannot read ${field}: ${(e as Error).message}`);
  }
}

const words = (s: string | undefined) => (s ? s.split(/\s+/).filter((w) => w !== "") : []);

/**
 * Read one entry's metadata (only `fields`; SLOT always). Throws VardbEntryError for a corrupt
 * or partial entry; `warn` receives anomalies that do not make the entry unusable.
 */
export function readVardbEntry(
  entry: VardbEntry,
  fields: readonly VardbField[] = VARDB_FIELDS,
  warn: (p: VardbProblem) => void = () => {},
): VardbPackage {
  const dir = entry.path;
  // Files are read directly (a readdir per entry costs more); a missing field reads as absent.
  const cpv = parseCpv(entry.cpv)!;
  const snapshot = existsSync(`${dir}/metadata`) ? readMetadataFile(dir) : undefined;
  const get = (f: string) => readField(dir, f, snapshot)?.trim();

  // identity files, when present (and asked for), must agree with the directory names
  for (const [file, want] of [
    ["CATEGORY", cpv.category],
    ["PF", entry.cpv.slice(cpv.category.length + 1)],
  ] as const) {
    if (!fields.includes(file)) continue;
    const have = get(file);
    if (have !== undefined && have !== want)
      throw new VardbEntryError(
        dir,
        `${file} says ${JSON.stringify(have)}, the directory says ${JSON.stringify(want)}`,
      );
  }
  const slotText = get("SLOT");
  if (!slotText) throw new VardbEntryError(dir, "partial entry: no SLOT");
  if (!SLOT_RE.test(slotText)) throw new VardbEntryError(dir, `corrupt SLOT ${JSON.stringify(slotText)}`);
  const [slot, subSlot] = slotText.split("/");

  const pkg: VardbPackage = {
    cpv: cpv.cpv,
    category: cpv.category,
    name: cpv.name,
    cp: cpv.cp,
    version: cpv.version,
    slot: slot!,
    subSlot: subSlot ?? slot!,
    source: dir,
    contents: () => [],
  };
  const has = new Set<VardbField>(fields);
  if (has.has("repository")) pkg.repo = get("repository") || null;
  if (has.has("EAPI")) pkg.eapi = get("EAPI") || "0";
  if (has.has("USE")) pkg.use = words(get("USE"));
  if (has.has("IUSE")) pkg.iuse = words(get("IUSE"));
  if (has.has("KEYWORDS")) pkg.keywords = words(get("KEYWORDS"));
  for (const [field, key] of [
    ["BUILD_TIME", "buildTime"],
    ["COUNTER", "counter"],
  ] as const) {
    if (!has.has(field)) continue;
    const value = get(field);
    if (value === undefined || value === "") continue;
    if (/^\d+$/.test(value)) pkg[key] = Number(value);
    else warn({ path: join(dir, field), message: `not a number: ${JSON.stringify(value.slice(0, 40))}` });
  }
  let contents: ContentsEntry[] | undefined;
  Object.defineProperty(pkg, "contents", {
    enumerable: false,
    value: () => {
      if (!contents) {
        const text = readField(dir, "CONTENTS", undefined) ?? "";
        const parsed = parseContents(text);
        for (const p of parsed.problems)
          warn({ path: `${join(dir, "CONTENTS")}:${p.line}`, message: p.message });
        contents = parsed.entries;
      }
      return contents;
    },
  });
  return pkg;
}

export interface ReadVardbOptions {
  /** Read metadata only for entries whose `category/name` passes (the others are still listed). */
  only?: (cp: string) => boolean;
  fields?: readonly VardbField[];
}

export interface Vardb {
  directory: string;
  /** Every entry found by name. */
  entries: VardbEntry[];
  /** The packages whose metadata was read (all, or those `only` selected), in vdb order. */
  packages: VardbPackage[];
  problems: VardbProblem[];
}

/** Read a prefix's (or a vdb directory's) installed packages. */
export function readVardb(prefixOrVdb: string, options: ReadVardbOptions = {}): Vardb {
  const directory = vardbDirectory(prefixOrVdb);
  const { entries, problems } = listVardb(directory);
  const packages: VardbPackage[] = [];
  const warn = (p: VardbProblem) => problems.push(p);
  for (const entry of entries) {
    if (options.only && !options.only(entry.cp)) continue;
    try {
      packages.push(readVardbEntry(entry, options.fields, warn));
    } catch (e) {
      if (!(e instanceof VardbEntryError)) throw e;
      problems.push({ path: e.path, message: `${e.message}; skipped` });
    }
  }
  return { directory, entries, packages, problems };
}
