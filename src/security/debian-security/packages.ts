/**
 * An apt `Packages` index as the security suite publishes it, reduced to what the audit needs:
 * per source package, the newest source version the index offers for the layer's architecture
 * and the binaries built from it. Binary stanzas name their source in `Source:` (with its own
 * version in parentheses when it differs, e.g. after a binNMU); without it the source is the
 * binary's own name and version. A stanza that is not usable (no Package or Version, a version
 * dpkg would refuse, a name that is not a Debian package name) is skipped and reported.
 */
import { deb822Stanzas } from "../../debian/status.js";
import { compareVersions, isValidVersion } from "../../debian/version.js";

export const PACKAGE_NAME_RE = /^[a-z0-9][a-z0-9+.-]+$/;

export interface IndexBinary {
  name: string;
  version: string;
  architecture: string;
  /** `pool/…/x.deb`, relative to the archive. */
  filename?: string;
  size?: number;
}

export interface IndexSource {
  name: string;
  /** The newest source version among the binaries. */
  version: string;
  /** Binaries built from that version. */
  binaries: IndexBinary[];
}

export interface PackagesIndex {
  sources: Map<string, IndexSource>;
  stanzas: number;
  problems: string[];
}

/** Parse Packages text into `into` (several index files add up); `arches` the architectures kept (the layer's and `all`). */
export function addPackagesIndex(
  into: PackagesIndex,
  text: string,
  file: string,
  arches: ReadonlySet<string>,
): void {
  for (const st of deb822Stanzas(text)) {
    into.stanzas++;
    const name = st.fields.get("package");
    const version = st.fields.get("version");
    const architecture = st.fields.get("architecture") ?? "";
    const where = `${file}:${st.line}`;
    if (st.error) {
      into.problems.push(`${where}: ${st.error}`);
      continue;
    }
    if (!name || !PACKAGE_NAME_RE.test(name)) {
      into.problems.push(`${where}: no valid Package field`);
      continue;
    }
    if (!version || !isValidVersion(version)) {
      into.problems.push(`${where}: ${name} has no valid Version (${JSON.stringify(version ?? "")})`);
      continue;
    }
    if (!arches.has(architecture)) continue;
    const src = /^(\S+)(?:\s+\((\S+)\))?$/.exec(st.fields.get("source") ?? "");
    const sourceName = src?.[1] ?? name;
    const sourceVersion = src?.[2] ?? version;
    if (!PACKAGE_NAME_RE.test(sourceName) || !isValidVersion(sourceVersion)) {
      into.problems.push(
        `${where}: ${name} names an invalid source ${JSON.stringify(st.fields.get("source"))}`,
      );
      continue;
    }
    const size = Number(st.fields.get("size"));
    const binary: IndexBinary = {
      name,
      version,
      architecture,
      ...(st.fields.get("filename") ? { filename: st.fields.get("filename")! } : {}),
      ...(Number.isSafeInteger(size) ? { size } : {}),
    };
    const known = into.sources.get(sourceName);
    const order = known ? compareVersions(sourceVersion, known.version) : 1;
    if (order > 0)
      into.sources.set(sourceName, { name: sourceName, version: sourceVersion, binaries: [binary] });
    else if (order === 0) known!.binaries.push(binary);
  }
}

export function emptyIndex(): PackagesIndex {
  return { sources: new Map(), stanzas: 0, problems: [] };
}
