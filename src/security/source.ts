/**
 * Advisory sources, one folder each (like Trivy's one detector per distribution): a source opens
 * its advisories for one layer (loading them, or taking them from the session when another layer
 * already did) and detects which installed packages of its ecosystem they hit. Sources take the
 * installed packages as data; they never read a layer's package database themselves. `sources.ts`
 * is the registry; each flavor names the sources that judge its layers (FlavorModule.advisorySources).
 */
import type { AptSource } from "../debian/sources.js";
import type { FlavorName } from "../spec/schema.js";
import type { Finding } from "./advisory.js";

/** Whose packages a source judges: the flavor whose package database its layers have. */
export type Ecosystem = FlavorName;

/** What the audit knows about the layer whose packages are judged. */
export interface LayerFacts {
  /** How messages name the layer: its prefix, artifact or list. */
  label: string;
  /** The layer on disk, when it is there (not for a package list or an artifact). */
  prefix?: string;
  /** The layer's CPU family (`x86_64`, `aarch64`, …). */
  arch: string;
  /** Debian: the release codename the packages come from (`bookworm`). */
  debianRelease?: string;
  /** Debian: the layer's own apt sources (`etc/apt/sources.list{,.d}` in the layer). */
  aptSources?: AptSource[];
  /** Gentoo: the gentoo.git commit the layer was built from. */
  gentooCommit?: string;
}

/** The site's (or the command line's) settings for every source. */
export interface AdvisorySettings {
  /** Cache directory; undefined disables caches (and, for debian-security, downloads). */
  cacheDir?: string;
  /** Data older than this many days is reported as stale. */
  maxAgeDays: number;
  /** The time staleness is judged at (default: now). */
  now?: Date;
  glsa?: { dir?: string };
  debianSecurity?: {
    /** Index files to use as they are (an apt lists directory or a mirror's dists/<suite>/): nothing is fetched. */
    index?: string;
    /** Debian's security-tracker JSON export, for CVEs without a fix yet. */
    tracker?: string;
    /** The security archive to fetch from when the layer's sources name none. */
    mirror?: string;
    maxAgeDays?: number;
  };
  gentooGit?: {
    /** A gentoo.git checkout (not shallow beyond the layer's commit). */
    repository?: string;
    /** The layer's pinned commit, when the layer does not say. */
    commit?: string;
    /** Gentoo bug numbers known to be security bugs (their `Bug:` trailers count as security). */
    securityBugs?: ReadonlySet<string>;
    maxAgeDays?: number;
  };
}

/** Shared by every layer of one run: loaded advisories are kept by key, so nine layers load once. */
export interface SourceSession {
  memo<T>(key: string, make: () => Promise<T>): Promise<T>;
}

export function newSession(): SourceSession {
  const kept = new Map<string, Promise<unknown>>();
  return {
    memo<T>(key: string, make: () => Promise<T>): Promise<T> {
      let p = kept.get(key) as Promise<T> | undefined;
      if (!p) {
        p = make();
        kept.set(key, p);
      }
      return p;
    },
  };
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

/** How current a source's data is, as far as the data itself says. */
export interface Freshness {
  /** When the data was last updated (ISO 8601), or null when it cannot tell. */
  asOf: string | null;
  /** What `asOf` was read from, for people. */
  basis: string;
  /** Older than `maxAgeDays` (or past a Valid-Until): "no findings" may mean "old data". */
  stale: boolean;
  maxAgeDays: number;
}

export interface LoadedAdvisories<P> {
  source: string;
  location: string;
  /** Advisories usable for matching. */
  count: number;
  /** Advisory files (or entries) that could not be read, one line each. */
  invalid: string[];
  /** How the data was obtained: parsed from scratch, fully from cache, or partly. */
  cache: "off" | "cold" | "warm" | "partial";
  /**
   * Names of every package some advisory mentions: an inventory may read only these in detail.
   * Undefined: any installed package may be hit.
   */
  packageNames?: ReadonlySet<string>;
  freshness?: Freshness;
  detect(packages: readonly P[], context: DetectContext): Promise<DetectResult>;
}

export interface AdvisorySource<P> {
  readonly id: string;
  readonly displayName: string;
  /**
   * The advisories for one layer. Throws InputError when the source has no data for it (not
   * configured, a directory that is not there): the audit reports that as "no data".
   */
  open(layer: LayerFacts, settings: AdvisorySettings, session: SourceSession): Promise<LoadedAdvisories<P>>;
}

/** Freshness of data last updated at `asOf`, judged at `now` against `maxAgeDays`. */
export function freshnessOf(
  asOf: Date | null,
  basis: string,
  maxAgeDays: number,
  now: Date = new Date(),
  validUntil?: Date,
): Freshness {
  const tooOld = asOf === null || now.getTime() - asOf.getTime() > maxAgeDays * 86_400_000;
  const expired = validUntil !== undefined && now.getTime() > validUntil.getTime();
  return { asOf: asOf?.toISOString() ?? null, basis, stale: tooOld || expired, maxAgeDays };
}
