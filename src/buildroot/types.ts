/**
 * Build roots: Debian root file systems compat makes with mmdebstrap and pins, in which builds run
 * instead of on the build host's userland (issue 18). A build root is identified by the sha256 of
 * its installed package list (name, version, arch), its suite and its arch, and cached under the
 * state dir while that identity holds (src/buildroot/cache.ts).
 */
import type { Arch } from "../layer/id.js";

/** What a build root is made of: a Debian suite and the packages installed on top of mmdebstrap's minbase. */
export interface BuildRootSpec {
  /** The Debian suite (already chosen for the arch), e.g. `bookworm`. */
  suite: string;
  /** The Debian mirror; default: the host's apt sources (as the debian flavor does). */
  mirror?: string;
  /** Packages installed on top of the minbase variant, sorted and without duplicates. */
  packages: string[];
}

/** One installed package of a build root, as its dpkg status says. */
export interface BuildRootPackage {
  name: string;
  version: string;
  /** Debian's architecture of the package (`amd64`, `all`, …). */
  arch: string;
}

export interface BuildRoot {
  /** The root directory to use as the sandbox's `/` (read-only: never write into it). */
  dir: string;
  /** sha256 hex of the canonical package list with versions (+ arch, suite): identity.ts. */
  identity: string;
  arch: Arch;
  suite: string;
  /** The installed packages, sorted by name then arch. */
  packages: BuildRootPackage[];
  /** The mirror it was made from (`host apt sources` when the spec named none). */
  mirror?: string;
  /** When it was made (ISO 8601). */
  createdAt: string;
  /** SOURCE_DATE_EPOCH it was made with: the verified Release date of its suites. */
  sourceDateEpoch: number;
  /** Whether this call made it (false: an existing one was reused). */
  made: boolean;
}

/** Options of ensureBuildRoot (src/buildroot/ensure.ts). */
export interface EnsureBuildRootOptions {
  arch: Arch;
  /** compat's state dir: build roots go to `<stateDir>/buildroots/`. */
  stateDir: string;
  /** Every line mmdebstrap and apt print while a root is made. */
  log?: import("node:stream").Writable;
  /** Short progress notes for people (waiting for a lock, making, reusing). */
  note?: (message: string) => void;
  /**
   * Ask the mirror whether its suites changed since the root was made (a verified Release date),
   * and make a new root when they did. Without it a root, once made, is reused as it is.
   */
  refresh?: boolean;
  /**
   * Check a reused root's files against its packages (dpkg --verify) even when that was done
   * before; it is done anyway the first time a root is reused after it was made.
   */
  verify?: boolean;
  signal?: AbortSignal;
}
