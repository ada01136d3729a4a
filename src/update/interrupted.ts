/**
 * Updates whose process died (killed, crashed, the machine rebooted) leave their run `running` and
 * their candidate `building` or `gating`. Every update-loop command first finds them: the run
 * becomes `interrupted`, a gate it was running `error`, the candidate `failed` (never `ready`),
 * so that nobody approves what was not gated to the end. A failed candidate can be gated again
 * (`compat gate`) or its update resumed (`compat update --resume`).
 */
import { listCandidates, transitionCandidate } from "../store/candidates.js";
import { finishGate, listGates } from "../store/gates.js";
import { getRun, interruptDeadRuns } from "../store/runs.js";
import type { Store } from "../store/store.js";

const ACTOR = "compat (interrupted update)";

/** Returns the ids of the candidates marked failed. */
export async function reapInterruptedUpdates(store: Store): Promise<number[]> {
  await interruptDeadRuns(store);
  const failed: number[] = [];
  for (const c of await listCandidates(store, { state: ["building", "gating"], limit: 1000 })) {
    const gates = await listGates(store, c.id);
    // a gate re-run (compat gate) records its own run; the update's run covers the rest
    const runIds = [c.runId, ...gates.filter((g) => g.state === "running").map((g) => g.runId)];
    const runs = await Promise.all(runIds.map((id) => (id === null ? undefined : getRun(store, id))));
    if (runs.some((r) => r?.state === "running")) continue;
    for (const g of gates.filter((x) => x.state === "running"))
      await finishGate(store, c.id, g.gate, {
        state: "error",
        report: { summary: "interrupted: the process running the gate is gone", interrupted: true },
        actor: ACTOR,
      }).catch(() => {});
    await transitionCandidate(store, c.id, "failed", {
      actor: ACTOR,
      reason: "its update or gate run was interrupted (the process is gone)",
    }).then(
      () => failed.push(c.id),
      () => {}, // another process moved it meanwhile
    );
  }
  return failed;
}
