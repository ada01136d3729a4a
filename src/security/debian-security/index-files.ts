/**
 * The security suite's index files in a directory, in either of the two layouts they come in:
 *
 * - an apt lists directory (what `apt-get update` writes, e.g. compat's own cache, or a host's
 *   /var/lib/apt/lists): `<host>_<path>_dists_<suite>_InRelease` and
 *   `…_dists_<suite>_<component>_binary-<arch>_Packages[.lz4|.gz|.xz|.zst]`;
 * - a copy of the archive's `dists/<suite>/`: `InRelease` (or `Release`) and
 *   `<component>/binary-<arch>/Packages[.gz|.xz|…]`.
 *
 * Compressed files are read with apt's own decompressors (`apt-helper cat-file`), gzip in-process.
 * Nothing is written.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { InputError } from "../../errors.js";
import { run } from "../../exec/run.js";
import { addPackagesIndex, emptyIndex, type PackagesIndex } from "./packages.js";
import { parseRelease, type ReleaseInfo } from "./release.js";

export const APT_HELPER = "/usr/lib/apt/apt-helper";

export interface SecurityIndex {
  /** The directory read. */
  dir: string;
  suite: string;
  release: ReleaseInfo;
  releaseFile: string;
  packageFiles: string[];
  packages: PackagesIndex;
}

const COMPRESSED = /\.(gz|xz|lz4|zst|bz2)$/;

/** Read a possibly compressed index file as text. */
export async function readIndexFile(path: string): Promise<string> {
  if (path.endsWith(".gz")) return gunzipSync(readFileSync(path)).toString("utf8");
  if (!COMPRESSED.test(path)) return readFileSync(path, "utf8");
  if (!existsSync(APT_HELPER))
    throw new InputError(`${path}: compressed, and ${APT_HELPER} (apt's decompressor) is missing`, {
      hint: "install apt, or give the index uncompressed or .gz",
    });
  return (await run(APT_HELPER, ["cat-file", path])).stdout;
}

/** One file per index target: the plain file when there is one, else the first compressed form. */
function preferPlain(names: string[]): string[] {
  const byTarget = new Map<string, string>();
  for (const n of names.sort()) {
    const target = n.replace(COMPRESSED, "");
    const have = byTarget.get(target);
    if (have === undefined || (COMPRESSED.test(have) && !COMPRESSED.test(n))) byTarget.set(target, n);
  }
  return [...byTarget.values()];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The security suites an apt lists directory has a Release file for. */
export function listedSecuritySuites(dir: string): string[] {
  const suites = new Set<string>();
  for (const n of readdirSync(dir)) {
    const m = /_dists_(.+?)_(?:In)?Release$/.exec(n);
    if (m && /-security$|_updates$/.test(m[1]!)) suites.add(m[1]!.replaceAll("_", "/"));
  }
  return [...suites].sort();
}

/**
 * Load the index for `suite` (e.g. `bookworm-security`; undefined: the one security suite the
 * directory has) and the Debian architecture `debArch`. InputError when the directory has no
 * Release file or no Packages file for them.
 */
export async function loadSecurityIndex(
  dir: string,
  suiteWanted: string | undefined,
  debArch: string,
): Promise<SecurityIndex> {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new InputError(`Debian index directory ${dir} does not exist`, {
      hint: "give an apt lists directory (apt-get update -o Dir::State::Lists=DIR) or a copy of the archive's dists/<suite>/",
    });
  const arches = new Set([debArch, "all"]);
  const packages = emptyIndex();
  // a copy of dists/<suite>/
  const release = ["InRelease", "Release"].map((n) => join(dir, n)).find((p) => existsSync(p));
  if (release) {
    const info = parseRelease(readFileSync(release, "utf8"));
    const files: string[] = [];
    for (const comp of readdirSync(dir, { withFileTypes: true })) {
      const bin = join(dir, comp.name, `binary-${debArch}`);
      if (!comp.isDirectory() || !existsSync(bin)) continue;
      for (const n of preferPlain(readdirSync(bin).filter((n) => /^Packages(\.\w+)?$/.test(n))))
        files.push(join(bin, n));
    }
    if (files.length === 0)
      throw new InputError(`${dir}: no <component>/binary-${debArch}/Packages for ${debArch}`, {
        hint: "copy the Packages files of the layer's architecture from the archive's dists/<suite>/",
      });
    for (const f of files) addPackagesIndex(packages, await readIndexFile(f), f, arches);
    return {
      dir,
      suite: info.codename ?? info.suite ?? suiteWanted ?? "unknown",
      release: info,
      releaseFile: release,
      packageFiles: files,
      packages,
    };
  }
  // an apt lists directory
  let suite = suiteWanted;
  if (suite === undefined) {
    const found = listedSecuritySuites(dir);
    if (found.length !== 1)
      throw new InputError(
        found.length === 0
          ? `${dir} has no index of a Debian security suite (no *_dists_<suite>-security_InRelease)`
          : `${dir} has the indexes of several security suites (${found.join(", ")}) and the layer does not say which is its own`,
        { hint: "fetch the layer's security suite into it with apt-get update, or give the layer's release" },
      );
    suite = found[0]!;
  }
  const part = `_dists_${escapeRe(suite.replaceAll("/", "_"))}_`;
  const names = readdirSync(dir);
  const releaseName =
    names.find((n) => new RegExp(`${part}InRelease$`).test(n)) ??
    names.find((n) => new RegExp(`${part}Release$`).test(n));
  const packageNames = preferPlain(
    names.filter((n) => new RegExp(`${part}.+_binary-${escapeRe(debArch)}_Packages(\\.\\w+)?$`).test(n)),
  );
  if (!releaseName || packageNames.length === 0)
    throw new InputError(
      `${dir} has no index of ${suite} for ${debArch} (${releaseName ? "no Packages file" : "no Release file"})`,
      {
        hint: `fetch it with apt-get update (the layer's sources with ${suite}, for ${debArch}) into that directory`,
      },
    );
  const releaseFile = join(dir, releaseName);
  const files = packageNames.map((n) => join(dir, n));
  for (const f of files) addPackagesIndex(packages, await readIndexFile(f), f, arches);
  return {
    dir,
    suite,
    release: parseRelease(readFileSync(releaseFile, "utf8")),
    releaseFile,
    packageFiles: files,
    packages,
  };
}
