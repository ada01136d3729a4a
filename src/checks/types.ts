/**
 * The vocabulary of the check suite: a check, the context it runs in, and its outcome with the
 * evidence a person needs to act on it (what was run or read, what was expected, what was found,
 * the files at fault).
 */
import type { FlavorCapability } from "../flavors/types.js";
import type { ElfIndex } from "./elf-index.js";
import type { LayerFs } from "./layer-fs.js";
import type { LoaderInfo } from "./loader.js";
import type { PrefixShell } from "./shell.js";
import type { LayerTarget } from "./target.js";
import type { TreeIndex } from "./tree.js";
import type { Versions } from "./versions.js";

export type CheckStatus = "pass" | "fail" | "skip";

export interface Evidence {
  /** Commands run, exactly as run (inside the layer: the command given to startprefix). */
  ran?: string[];
  /** Files read, as paths in the layer's namespace. */
  read?: string[];
  /** What a good layer shows. */
  expected: string;
  /** What this layer shows. */
  found: string;
  /** The files at fault, as paths in the layer's namespace (absolute, under the prefix). */
  files?: string[];
  /** One line per problem, each self-contained (e.g. `usr/bin/x: needs libz.so.1: not found`). */
  details?: string[];
  /** The tail of a command's output, when it explains the result. */
  output?: string;
}

export interface CheckOutcome {
  status: CheckStatus;
  evidence: Evidence;
}

export interface CheckResult extends CheckOutcome {
  id: string;
  title: string;
  durationMs: number;
}

export interface Check {
  /** Stable id used by --only/--skip and in reports, e.g. `elf-libraries`. */
  id: string;
  title: string;
  /** What a pass proves, in one sentence (shown in docs and the README). */
  proves: string;
  /**
   * What the layer's flavor must have for the check to apply (undefined: every flavor); on layers of
   * other flavors it is skipped with that reason. `checkFlavors` (applies.ts) lists those flavors.
   */
  requires?: FlavorCapability;
  /** Layer versions the check applies to; on others it is skipped with that reason. */
  versions: Versions;
  /** The EESSI ReFrame check this one replaces, when there is one (reference/compat-layer.md §7). */
  eessi?: string;
  /**
   * Applies only to a finished layer: skipped in the build's check stage, which runs (as EESSI's
   * tests do) before the final host links and the build record are made.
   */
  finishedOnly?: boolean;
  /** A reason not to run on this layer (arch, missing configuration, no shell), or undefined. */
  skipReason?(ctx: CheckContext): string | undefined | Promise<string | undefined>;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}

/** What a check can use. Shared work (the tree walk, ELF reads, the loader's paths) is done once. */
export interface CheckContext {
  target: LayerTarget;
  /** The layer's files, addressed by paths in the layer's namespace. */
  fs: LayerFs;
  tree(): Promise<TreeIndex>;
  elf(): Promise<ElfIndex>;
  loader(): Promise<LoaderInfo>;
  shell: PrefixShell;
}

export const pass = (evidence: Evidence): CheckOutcome => ({ status: "pass", evidence });
export const fail = (evidence: Evidence): CheckOutcome => ({ status: "fail", evidence });
export const skip = (reason: string, evidence: Partial<Evidence> = {}): CheckOutcome => ({
  status: "skip",
  evidence: { ...evidence, expected: evidence.expected ?? "", found: reason },
});

/** At most `n` entries of a list, with a last line saying how many were left out. */
export function capped(lines: string[], n = 50): string[] {
  return lines.length <= n ? lines : [...lines.slice(0, n), `… and ${lines.length - n} more`];
}
