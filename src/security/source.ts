/**
 * Advisory sources, one folder each (like Trivy's one detector per distribution): a source
 * loads its advisories from disk (with whatever caching it needs) and detects which installed
 * packages of its ecosystem they hit. `sources/` is the registry.
 */
import type { Finding } from "./advisory.js";

export interface SourceLoadOptions {
  /** Where the advisories are (a directory for GLSAs). */
  location: string;
  /** Cache directory; undefined disables the cache. */
  cacheDir?: string;
}

export interface DetectContext {
  /** The layer's CPU family (`x86_64`, `aarch64`, …). */
  arch: string;
}

export interface DetectResult {
  findings: Finding[];
  /** Things a person should look at: data pitfalls, advisories that could not be used. */
  warnings: string[];
}

export interface LoadedAdvisories<P> {
  source: string;
  location: string;
  /** Advisories usable for matching. */
  count: number;
  /** Advisory files that could not be read, one line each. */
  invalid: string[];
  /** How the corpus was obtained: parsed from scratch, fully from cache, or partly. */
  cache: "off" | "cold" | "warm" | "partial";
  /** Names of every package some advisory mentions: an inventory may read only these in detail. */
  packageNames: ReadonlySet<string>;
  detect(packages: readonly P[], context: DetectContext): DetectResult;
}

export interface AdvisorySource<P> {
  readonly id: string;
  readonly displayName: string;
  /** Whose packages it judges: `gentoo` (vdb, qlist lists) or, later, `debian`. */
  readonly ecosystem: string;
  load(options: SourceLoadOptions): Promise<LoadedAdvisories<P>>;
}
