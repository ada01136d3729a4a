/**
 * A candidate's life, in one table: building → gating → ready → approved → published, or failed,
 * rejected, superseded. Every change of state goes through `assertTransition`.
 *
 * `published` means published after approval: a candidate published to a target whose policy
 * needs no approval (a staging area) stays `ready` (the publication is its own record), so
 * `published` always implies `approved`. A published candidate can still be promoted to further
 * targets; its state does not change then.
 */
import { IllegalTransitionError } from "./errors.js";

export const CANDIDATE_STATES = [
  "building",
  "gating",
  "ready",
  "approved",
  "published",
  "failed",
  "rejected",
  "superseded",
] as const;
export type CandidateState = (typeof CANDIDATE_STATES)[number];

const NEXT: Record<CandidateState, readonly CandidateState[]> = {
  building: ["gating", "failed", "superseded"],
  gating: ["ready", "failed", "rejected", "superseded"],
  // back to gating: a gate re-runs (which voids the approvals given so far)
  ready: ["approved", "gating", "rejected", "superseded"],
  approved: ["published", "gating", "rejected", "superseded"],
  published: [],
  // a failed update may be resumed (building), or its gates run again (gating)
  failed: ["building", "gating"],
  rejected: [],
  superseded: [],
};

/** States in which a candidate is still on its way to publication. */
export const OPEN_CANDIDATE_STATES: readonly CandidateState[] = ["building", "gating", "ready", "approved"];

export function nextCandidateStates(from: CandidateState): readonly CandidateState[] {
  return NEXT[from];
}

export function isCandidateState(s: string): s is CandidateState {
  return (CANDIDATE_STATES as readonly string[]).includes(s);
}

/** Throws IllegalTransitionError (exit 3) unless `from` may become `to`. */
export function assertTransition(candidateId: number, from: CandidateState, to: CandidateState): void {
  if (!NEXT[from].includes(to)) throw new IllegalTransitionError(candidateId, from, to, NEXT[from]);
}
