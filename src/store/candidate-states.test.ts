import { describe, expect, it } from "vitest";
import {
  assertTransition,
  CANDIDATE_STATES,
  type CandidateState,
  nextCandidateStates,
} from "./candidate-states.js";
import { IllegalTransitionError } from "./errors.js";

describe("candidate states", () => {
  it("follow building → gating → ready → approved → published", () => {
    const path: CandidateState[] = ["building", "gating", "ready", "approved", "published"];
    for (let i = 1; i < path.length; i++)
      expect(() => assertTransition(1, path[i - 1]!, path[i]!)).not.toThrow();
  });

  it("end in published, rejected and superseded; a failed one may be resumed or gated again", () => {
    for (const final of ["published", "rejected", "superseded"] as const)
      expect(nextCandidateStates(final)).toEqual([]);
    expect(nextCandidateStates("failed")).toEqual(["building", "gating"]);
  });

  it("never skip the gates or approval, nor leave a final state", () => {
    const forbidden: Array<[CandidateState, CandidateState]> = [
      ["building", "ready"],
      ["building", "approved"],
      ["building", "published"],
      ["gating", "approved"],
      ["gating", "published"],
      ["ready", "published"],
      ["failed", "ready"],
      ["published", "approved"],
      ["rejected", "approved"],
      ["superseded", "ready"],
    ];
    for (const [from, to] of forbidden) {
      const err = (() => {
        try {
          assertTransition(7, from, to);
        } catch (e) {
          return e;
        }
      })();
      expect(err, `${from} → ${to}`).toBeInstanceOf(IllegalTransitionError);
      expect((err as IllegalTransitionError).exitCode).toBe(3);
      expect((err as Error).message).toContain(`candidate 7 is ${from}: it cannot become ${to}`);
    }
  });

  it("lead only to states that exist", () => {
    for (const s of CANDIDATE_STATES)
      for (const n of nextCandidateStates(s)) expect(CANDIDATE_STATES).toContain(n);
  });
});
