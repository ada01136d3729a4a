/**
 * The gates every candidate must pass before anyone may approve it, in the order they run. A gate
 * is one module with an id (like a check); adding one (the impact gate of issue 15) is adding its
 * module and a line here. Approval requires every gate listed here to have passed, so a gate added
 * later also holds back older candidates until it has run on them (`compat gate`).
 */
import { InputError } from "../../errors.js";
import { checksGate } from "./checks.js";
import { deltaGate } from "./delta.js";
import type { Gate } from "./types.js";

export const GATES: readonly Gate[] = [checksGate, deltaGate];

export const GATE_IDS = GATES.map((g) => g.id);

/** The gates of `ids` (every gate when none are given); InputError for an id that is not a gate. */
export function selectGates(ids: readonly string[] | undefined): Gate[] {
  if (!ids || ids.length === 0) return [...GATES];
  const unknown = ids.filter((id) => !GATE_IDS.includes(id));
  if (unknown.length > 0)
    throw new InputError(`no gate ${unknown.join(", ")}`, { hint: `the gates are ${GATE_IDS.join(", ")}` });
  return GATES.filter((g) => ids.includes(g.id));
}
