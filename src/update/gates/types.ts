/**
 * A gate: an automatic check a candidate must pass before anyone may approve it (DESIGN.md "gate").
 * Like a check, each gate is one small module with an id, declared in registry.ts; the runner
 * (run.ts) records its state and report in the store, where the gates' digest binds approvals to
 * exactly the results the approvers saw.
 */

import type { SiteConfig, SiteLayer, SiteTarget } from "../../site/load.js";
import type { ArtifactRecord } from "../../store/artifacts.js";
import type { Candidate } from "../../store/candidates.js";
import type { JsonValue } from "../../store/json.js";
import type { Store } from "../../store/store.js";
import type { SiteLayerArch } from "../site-layer.js";
import type { UpdateRecord } from "../update-record.js";

/** What a gate works on: the candidate, its tree and artifacts, and what it updates. */
export interface GateContext {
  site: SiteConfig;
  store: Store;
  candidate: Candidate;
  layer: SiteLayerArch;
  /** The update that made the candidate: its request and where its tree is. */
  update: UpdateRecord;
  /** The candidate's tree: the local repository root and the layer's directory in it. */
  tree: { root: string; prefixDir: string };
  full: ArtifactRecord;
  delta: ArtifactRecord | undefined;
  /** What the candidate updates: the target and the full artifact whose tree it held. */
  base: { target: SiteTarget; tree: ArtifactRecord } | undefined;
  /** The target the candidate was built for (its base target, whether it held the layer or not). */
  target: SiteTarget;
  /** Scratch space of this gate run (removed after). */
  workDir: string;
  signal?: AbortSignal;
  /** A short progress line for people. */
  note(message: string): void;
}

export interface GateOutcome {
  state: "passed" | "failed";
  /** One line for tables and notifications. */
  summary: string;
  /**
   * What the gate found, stored with the gate (its sha256 goes into the gates' digest); the runner
   * adds `summary`, so a report has no `summary` of its own.
   */
  report: { [key: string]: JsonValue };
}

export interface Gate {
  /** Stable id: stored in the gates table, shown in tables, used by `compat gate --only`. */
  readonly id: string;
  readonly title: string;
  /** What passing proves, for people (docs/cli.md lists it). */
  readonly proves: string;
  /**
   * Whether the gate applies to a layer of the site config (absent: to every layer). A gate that
   * does not apply to a candidate's layer is neither run on it nor required for its approval.
   */
  applies?(layer: SiteLayer): boolean;
  /**
   * Judge the candidate. Return `passed` or `failed` with what was found; throw for a gate that
   * could not judge (the runner records `error`, which holds approval back as `failed` does).
   */
  run(ctx: GateContext): Promise<GateOutcome>;
}
