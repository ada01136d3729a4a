/**
 * Reader of dpkg's database of installed packages, `var/lib/dpkg/status` (deb822 stanzas).
 *
 *   const db = await readDpkgStatus(treeDir);   // treeDir/var/lib/dpkg/status
 *   db.packages  → [{ name: "libc6", version: "2.36-9+deb12u4", architecture: "amd64",
 *                     source: "glibc", sourceVersion: "2.36-9+deb12u4", status: "install ok installed" }, …]
 *   db.problems  → stanzas that were skipped, each with its line and why
 *
 * Only installed packages are returned: the Status field's flag is `ok` and its state `installed`
 * (want `install`, or `hold` for a package kept at its version). Config-files, half-installed and
 * similar stanzas are counted in `notInstalled`. An odd stanza (no Package, a line that is not a
 * field, a duplicate field, an unparsable version, a Status that is not three words, a second stanza
 * for the same name and architecture) is reported in `problems` and skipped; it never stops the read.
 */
import { InputError } from "../errors.js";
import { resolveInside } from "../paths/inside.js";
import { readRegularFile } from "../paths/regular-file.js";
import { InvalidVersionError, parseVersion } from "./version.js";

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
  /** Source package name (the Source field without its version, or the package name). */
  source: string;
  /** Source version: the `(version)` of the Source field when given, else the binary version. */
  sourceVersion: string;
  /** The Status field as written, e.g. `install ok installed`. */
  status: string;
  multiArch?: string;
}

export interface StatusProblem {
  /** 1-based line where the skipped stanza starts. */
  line: number;
  package?: string;
  message: string;
}

export interface DpkgStatus {
  packages: InstalledPackage[];
  problems: StatusProblem[];
  /** Stanzas of packages that are known to dpkg but not installed (config-files, half-installed, …). */
  notInstalled: number;
}

export const DPKG_STATUS_PATH = "var/lib/dpkg/status";

export interface Stanza {
  line: number;
  fields: Map<string, string>;
  error?: string;
}

/**
 * Split deb822 text (a status file, an apt Packages index) into stanzas of fields; field names
 * compare case-insensitively (stored lower case). A stanza with a malformed line carries `error`.
 */
export function* deb822Stanzas(text: string): Generator<Stanza> {
  const lines = text.split(/\r?\n/);
  let cur: Stanza | undefined;
  let last: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^[ \t]*$/.test(l)) {
      if (cur) yield cur;
      cur = undefined;
      last = undefined;
      continue;
    }
    if (!cur) cur = { line: i + 1, fields: new Map() };
    if (l[0] === " " || l[0] === "\t") {
      if (last === undefined) cur.error ??= `line ${i + 1}: continuation line before any field`;
      else cur.fields.set(last, `${cur.fields.get(last)}\n${l.slice(1)}`);
      continue;
    }
    const m = /^([^\s:][^\s:]*):[ \t]*(.*?)[ \t]*$/.exec(l);
    if (!m) {
      cur.error ??= `line ${i + 1}: not a field ("${l.length > 40 ? `${l.slice(0, 40)}…` : l}")`;
      last = undefined;
      continue;
    }
    const name = m[1]!.toLowerCase();
    if (cur.fields.has(name)) cur.error ??= `line ${i + 1}: duplicate field ${m[1]}`;
    cur.fields.set(name, m[2]!);
    last = name;
  }
  if (cur) yield cur;
}

/** Parse the text of a status file. */
export function parseDpkgStatus(text: string): DpkgStatus {
  const result: DpkgStatus = { packages: [], problems: [], notInstalled: 0 };
  const seen = new Set<string>();
  for (const st of deb822Stanzas(text)) {
    const name = st.fields.get("package");
    const skip = (message: string) =>
      result.problems.push({ line: st.line, ...(name ? { package: name } : {}), message });
    if (st.error) {
      skip(st.error);
      continue;
    }
    if (!name) {
      skip("stanza has no Package field");
      continue;
    }
    const status = st.fields.get("status");
    if (status === undefined) {
      skip("stanza has no Status field");
      continue;
    }
    const words = status.split(/\s+/);
    if (words.length !== 3) {
      skip(`Status "${status}" is not three words (want flag state)`);
      continue;
    }
    const [want, flag, state] = words as [string, string, string];
    if (!(flag === "ok" && state === "installed" && (want === "install" || want === "hold"))) {
      result.notInstalled++;
      continue;
    }
    const version = st.fields.get("version");
    const architecture = st.fields.get("architecture");
    if (!version) {
      skip("installed package has no Version field");
      continue;
    }
    if (!architecture) {
      skip("installed package has no Architecture field");
      continue;
    }
    try {
      parseVersion(version, { strict: false });
    } catch (e) {
      if (!(e instanceof InvalidVersionError)) throw e;
      skip(e.message);
      continue;
    }
    const key = `${name}:${architecture}`;
    if (seen.has(key)) {
      skip(`a second stanza for ${key}`);
      continue;
    }
    seen.add(key);
    const src = /^(\S+)(?:\s+\((\S+)\))?$/.exec(st.fields.get("source") ?? "");
    const multiArch = st.fields.get("multi-arch");
    result.packages.push({
      name,
      version,
      architecture,
      source: src?.[1] ?? name,
      sourceVersion: src?.[2] ?? version,
      status,
      ...(multiArch ? { multiArch } : {}),
    });
  }
  return result;
}

/** Far more than a full Debian desktop's status (about 10 MB). */
const MAX_STATUS_BYTES = 256 * 1024 * 1024;

/** Read `<treeDir>/var/lib/dpkg/status`; a missing file is an InputError naming it. */
export async function readDpkgStatus(treeDir: string): Promise<DpkgStatus> {
  // a link in the tree is followed inside it, as dpkg inside the layer would: `status ->
  // /var/lib/dpkg/status` must not read the host's packages (resolveInside refuses it)
  const file = resolveInside({ base: treeDir, what: `${treeDir}: dpkg's status database` }, DPKG_STATUS_PATH);
  let text: string;
  try {
    // a tree's status may be a FIFO (would block), a device or a link to one (would never end)
    text = await readRegularFile(file, MAX_STATUS_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: cannot read dpkg's status database (${code ?? (e as Error).message})`, {
      hint: "the tree is not a Debian root file system, or its dpkg database was removed",
    });
  }
  return parseDpkgStatus(text);
}

/** `name:arch version` lines, sorted, one per installed package (the form of a reprod `packages.txt`). */
export function formatPackageList(packages: readonly InstalledPackage[]): string {
  return packages
    .map((p) => `${p.name}:${p.architecture} ${p.version}`)
    .sort()
    .join("\n")
    .concat(packages.length ? "\n" : "");
}
