/**
 * The gates every candidate must pass before anyone may approve it, in the order they run. A gate
 * is one module with an id (like a check); adding one (the impact gate of issue 15) is adding its
 * module and a line here. Approval requires every gate listed here to have passed, so a gate added
 * later also holds back older candidates until it has run on them (`compat gate`).
 */
import { InputError } from "../../errors.js";
import type { SiteLayer } from "../../site/load.js";
import { auditGate } from "./audit.js";
import { checksGate } from "./checks.js";
import { deltaGate } from "./delta.js";
import type { Gate } from "./types.js";

export const GATES: readonly Gate[] = [checksGate, auditGate, deltaGate];

export const GATE_IDS = GATES.map((g) => g.id);

/**
 * The gates a candidate of `layer` must pass: those that apply to it. A layer no longer in the
 * site config (undefined) gets every gate, so nothing is waved through for lack of its settings.
 */
export function requiredGates(layer: SiteLayer | undefined, gates: readonly Gate[] = GATES): Gate[] {
  return gates.filter((g) => !g.applies || layer === undefined || g.applies(layer));
}

/**
 * The gates of `ids` (every gate `layer` requires when none are given); InputError for an id that
 * is not a gate.
 */
export function selectGates(ids: readonly string[] | undefined, layer: SiteLayer | undefined): Gate[] {
  const required = requiredGates(layer);
  if (!ids || ids.length === 0) return required;
  const unknown = ids.filter((id) => !GATE_IDS.includes(id));
  if (unknown.length > 0)
    throw new InputError(`no gate ${unknown.join(", ")}`, { hint: `the gates are ${GATE_IDS.join(", ")}` });
  const inapplicable = ids.filter((id) => !required.some((g) => g.id === id));
  if (inapplicable.length > 0)
    throw new InputError(`gate ${inapplicable.join(", ")} does not apply to layer ${layer?.name}`, {
      hint: `its gates are ${required.map((g) => g.id).join(", ")}`,
    });
  return required.filter((g) => ids.includes(g.id));
}
