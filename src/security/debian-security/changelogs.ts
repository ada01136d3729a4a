/**
 * Where the changelog of a source package at a version comes from, in order: the offline bundle
 * next to a given index (`<index>/changelogs/<source>_<version>.changelog`), compat's cache
 * (`<cache>/debian-security/changelogs/`), or — online — the changelog.Debian.gz inside one of
 * the version's binary packages, downloaded with apt (`apt-get changelog` needs
 * metadata.ftp-master.debian.org, which does not serve security uploads' changelogs reliably;
 * the .deb always carries its own). A fetched changelog is cached. Names and versions from the
 * index become file names only once they pass the Debian rules for names and versions.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { isValidVersion } from "../../debian/version.js";
import { isCompatError } from "../../errors.js";
import { run } from "../../exec/run.js";
import { downloadDeb, type PrivateApt } from "./apt.js";
import { type IndexBinary, PACKAGE_NAME_RE } from "./packages.js";

export interface ChangelogLookup {
  text?: string;
  /** Where it was found or why it was not. */
  note: string;
}

/** Binary packages larger than this are not downloaded for their changelog (linux-source, -doc). */
export const MAX_DEB_BYTES = 64 << 20;
/** A changelog larger than this, unpacked, is not read (the largest in bookworm is a few MiB). */
export const MAX_CHANGELOG_BYTES = 32 << 20;

const fileName = (source: string, version: string) => `${source}_${version}.changelog`;

export class ChangelogStore {
  constructor(
    private readonly dirs: { bundle?: string; cache?: string },
    /** Online: the private apt state the index was fetched with. */
    private readonly apt?: PrivateApt,
  ) {}

  async get(source: string, version: string, binaries: readonly IndexBinary[]): Promise<ChangelogLookup> {
    if (!PACKAGE_NAME_RE.test(source) || !isValidVersion(version) || version.includes("/"))
      return { note: `${source} ${version} is not a Debian source name and version` };
    const name = fileName(source, version);
    for (const dir of [this.dirs.bundle, this.dirs.cache]) {
      if (dir === undefined) continue;
      const path = join(dir, name);
      if (existsSync(path) && lstatSync(path).isFile())
        return { text: readFileSync(path, "utf8"), note: path };
    }
    if (!this.apt) return { note: `no changelog of ${source} ${version} here (offline: nothing fetched)` };
    const fetched = await this.fetch(binaries);
    if (fetched.text !== undefined && this.dirs.cache !== undefined) {
      mkdirSync(this.dirs.cache, { recursive: true });
      writeFileSync(join(this.dirs.cache, name), fetched.text);
    }
    return fetched;
  }

  /**
   * In the order given (the caller puts the layer's own binaries first); up to three tried, none
   * larger than MAX_DEB_BYTES (a binary whose doc directory is a link to another's has none).
   */
  private async fetch(binaries: readonly IndexBinary[]): Promise<ChangelogLookup> {
    const tried: string[] = [];
    const order = binaries.filter(
      (b) => PACKAGE_NAME_RE.test(b.name) && isValidVersion(b.version) && (b.size ?? 0) <= MAX_DEB_BYTES,
    );
    for (const b of order.slice(0, 3)) {
      const work = mkdtempSync(join(tmpdir(), "compat-deb-"));
      try {
        await downloadDeb(this.apt!, b.name, b.version, work);
        const deb = readdirSync(work).find((n) => n.endsWith(".deb"));
        if (!deb) {
          tried.push(`${b.name}: apt-get download wrote no .deb`);
          continue;
        }
        const tree = join(work, "tree");
        await run("dpkg-deb", ["-x", join(work, deb), tree]);
        const found = changelogIn(tree, b.name);
        if (typeof found === "string") return { text: found, note: `${b.name}_${b.version}.deb` };
        tried.push(`${b.name}: ${found?.problem ?? `no usr/share/doc/${b.name}/changelog{.Debian,}.gz`}`);
      } catch (e) {
        if (!isCompatError(e)) throw e;
        tried.push(`${b.name}: ${e.message}`);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
    return { note: `changelog not found (${tried.join("; ") || "no binary to download"})` };
  }
}

/**
 * The changelog of an extracted binary package, when it ships one as a regular file:
 * `changelog.Debian.gz`, or `changelog.gz` for a native package (apt, ca-certificates).
 */
export function changelogIn(tree: string, binary: string): string | { problem: string } | undefined {
  const doc = join(tree, "usr/share/doc", binary);
  if (!existsSync(doc) || !lstatSync(doc).isDirectory()) return undefined;
  for (const name of ["changelog.Debian.gz", "changelog.gz"]) {
    const file = join(doc, name);
    if (!existsSync(file) || !lstatSync(file).isFile()) continue;
    // a corrupt or oversized (a gzip bomb) changelog is a problem of this package, never a crash
    try {
      return gunzipSync(readFileSync(file), { maxOutputLength: MAX_CHANGELOG_BYTES }).toString("utf8");
    } catch (e) {
      return { problem: `${name} unreadable (${(e as Error).message})` };
    }
  }
  return undefined;
}
