/** The GLSA advisory source: Gentoo Linux Security Advisories from a `metadata/glsa` directory. */
import type { InstalledPackage } from "../../gentoo/vardb.js";
import type { AdvisorySource } from "../source.js";
import { loadGlsaCorpus } from "./corpus.js";
import { glsaDetector } from "./detect.js";

/** Where a Gentoo prefix keeps its GLSAs (EESSI's sync hook clones glsa.git there). */
export const PREFIX_GLSA_DIR = "var/db/repos/gentoo/metadata/glsa";

export const glsaSource: AdvisorySource<InstalledPackage> = {
  id: "glsa",
  displayName: "Gentoo Linux Security Advisories (GLSA)",
  ecosystem: "gentoo",
  async load({ location, cacheDir }) {
    const corpus = await loadGlsaCorpus(location, cacheDir);
    const detector = glsaDetector(corpus);
    return {
      source: "glsa",
      location: corpus.directory,
      count: corpus.advisories.length,
      invalid: corpus.invalid.map((i) => `${i.file}: ${i.message}`),
      cache: corpus.cache,
      packageNames: detector.packageNames,
      detect: detector.detect,
    };
  },
};
