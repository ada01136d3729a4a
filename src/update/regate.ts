/**
 * `compat gate CANDIDATE [--only IDS]`: run a candidate's gates again (after new advisory data, a
 * gate added to the registry, or an interrupted update). A re-run voids the approvals given so far
 * (they were given over the earlier results); the candidate is `gating` meanwhile and ends `ready`
 * only when every gate of the registry has passed.
 */
import { ValidationError } from "../errors.js";
import type { SiteConfig } from "../site/load.js";
import { currentUser } from "../store/actor.js";
import { requireCandidate, transitionCandidate } from "../store/candidates.js";
import { withLease } from "../store/leases.js";
import { finishRun, startRun } from "../store/runs.js";
import type { Store } from "../store/store.js";
import { candidateContext } from "./candidate-context.js";
import { selectGates } from "./gates/registry.js";
import { type GateRunOptions, type GatesOutcome, runGates } from "./gates/run.js";
import { reapInterruptedUpdates } from "./interrupted.js";

export async function regateCandidate(
  site: SiteConfig,
  store: Store,
  id: number,
  opts: Omit<GateRunOptions, "actor" | "runId"> & { only?: string[] },
): Promise<GatesOutcome> {
  await reapInterruptedUpdates(store);
  const first = await requireCandidate(store, id);
  const gates = selectGates(opts.only, site.layers[first.layer]);
  if (!["ready", "approved", "failed"].includes(first.state))
    throw new ValidationError(`candidate ${id} is ${first.state}: its gates cannot run again`, {
      hint:
        first.state === "building" || first.state === "gating"
          ? "its update is still running (compat status)"
          : "make a new update: compat update LAYER --arch A",
    });
  if (!first.fullSha256)
    throw new ValidationError(
      `candidate ${id} has no artifacts (its build did not finish): there is nothing to gate`,
      {
        hint: "make a new update: compat update LAYER --arch A",
      },
    );
  const actor = currentUser();
  return withLease(
    store,
    `update:${first.layer}:${first.arch}`,
    { purpose: `compat gate ${id}` },
    async () => {
      const cc = await candidateContext(site, store, id);
      const run = await startRun(store, {
        kind: "gate",
        layer: first.layer,
        arch: first.arch,
        detail: { candidate: id, gates: gates.map((g) => g.id) },
      });
      await transitionCandidate(store, id, "gating", {
        actor,
        reason: `gates ${gates.map((g) => g.id).join(", ")} run again`,
      });
      try {
        const out = await runGates(
          site,
          store,
          { ...cc, candidate: await requireCandidate(store, id) },
          { ...opts, actor, runId: run.id },
          gates,
        );
        await finishRun(store, run.id, { state: "succeeded", exitCode: 0 });
        return out;
      } catch (e) {
        await finishRun(store, run.id, { state: opts.signal?.aborted ? "interrupted" : "failed" }).catch(
          () => {},
        );
        await transitionCandidate(store, id, "failed", { actor, reason: (e as Error).message }).catch(
          () => {},
        );
        throw e;
      }
    },
  );
}
