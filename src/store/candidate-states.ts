/**
 * A candidate's life, in one table: building → gating → ready → approved → published, or failed,
 * rejected, superseded. Every change of state goes through `assertTransition`.
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
  // a failed update may be resumed
  failed: ["building"],
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
