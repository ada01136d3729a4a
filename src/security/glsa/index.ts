/** The GLSA advisory source: Gentoo Linux Security Advisories from a `metadata/glsa` directory. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../errors.js";
import type { InstalledPackage } from "../../gentoo/vardb.js";
import { type AdvisorySource, type Freshness, freshnessOf } from "../source.js";
import { loadGlsaCorpus } from "./corpus.js";
import { glsaDetector } from "./detect.js";

/** Where a Gentoo prefix keeps its GLSAs (EESSI's sync hook clones glsa.git there). */
export const PREFIX_GLSA_DIR = "var/db/repos/gentoo/metadata/glsa";

/** The GLSA directory of a layer: the given one, else the prefix's own, else undefined. */
export function glsaDirFor(prefix: string | undefined, given: string | undefined): string | undefined {
  if (given !== undefined) return given;
  if (prefix === undefined) return undefined;
  const dir = join(prefix, PREFIX_GLSA_DIR);
  return existsSync(dir) ? dir : undefined;
}

/**
 * When the copy was synced: the rsync tree's `timestamp.chk` (an RFC 2822 date), else undefined
 * (a glsa.git checkout carries no stamp compat can read without running git in it).
 */
function glsaFreshness(dir: string, maxAgeDays: number, now: Date | undefined): Freshness | undefined {
  const stamp = join(dir, "timestamp.chk");
  if (!existsSync(stamp)) return undefined;
  const when = new Date(readFileSync(stamp, "utf8").trim());
  if (Number.isNaN(when.getTime())) return undefined;
  return freshnessOf(when, `${stamp}`, maxAgeDays, now);
}

export const glsaSource: AdvisorySource<InstalledPackage> = {
  id: "glsa",
  displayName: "Gentoo Linux Security Advisories (GLSA)",
  async open(layer, settings, session) {
    const location = glsaDirFor(layer.prefix, settings.glsa?.dir);
    if (!location)
      throw new InputError(`no GLSAs to audit against: ${layer.label} has no ${PREFIX_GLSA_DIR}`, {
        hint: "give --glsa DIR (a checkout of glsa.git, or a Gentoo repository's metadata/glsa)",
      });
    if (!existsSync(location) || !statSync(location).isDirectory())
      throw new InputError(`GLSA directory ${location} does not exist`, {
        hint: "give --glsa DIR: a checkout of glsa.git, or a repository's metadata/glsa",
      });
    const corpus = await session.memo(`glsa:${location}:${settings.cacheDir ?? ""}`, () =>
      loadGlsaCorpus(location, settings.cacheDir),
    );
    if (corpus.advisories.length === 0 && corpus.invalid.length === 0)
      throw new InputError(`no GLSA files (glsa-*.xml) in ${location}`, {
        hint: "give --glsa the directory that holds the glsa-YYYYMM-NN.xml files",
      });
    const detector = glsaDetector(corpus);
    const freshness = glsaFreshness(location, settings.maxAgeDays, settings.now);
    return {
      source: "glsa",
      location: corpus.directory,
      count: corpus.advisories.length,
      invalid: corpus.invalid.map((i) => `${i.file}: ${i.message}`),
      cache: corpus.cache,
      packageNames: detector.packageNames,
      ...(freshness ? { freshness } : {}),
      detect: async (packages, context) => detector.detect(packages, context),
    };
  },
};
