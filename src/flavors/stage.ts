/** A build stage as plans and progress reports name it. */
export interface StageInfo {
  /** Stable id: used in run records, `--from`/`--only` options and logs. */
  readonly id: string;
  /** One line for people: what the stage does. */
  readonly description: string;
}

/** Flavor-independent stages, shared by both flavors' lists. */
export const HOST_LINKS_STAGE = {
  id: "host-links",
  description: "link host files into the prefix with plain symlinks",
} as const satisfies StageInfo;
export const CHECK_STAGE = {
  id: "check",
  description: "run the check suite through startprefix (report in the run directory)",
} as const satisfies StageInfo;
export const FINALIZE_STAGE = {
  id: "finalize",
  description: "turn the host links into their final form (variant symlinks when enabled)",
} as const satisfies StageInfo;
/** The last stage of every build: the layer is built aside and moved into place only when all else passed. */
export const ACTIVATE_STAGE = {
  id: "activate",
  description: "move the finished layer into place at the prefix path; keep a previous one as .<arch>-NNN",
} as const satisfies StageInfo;
