/**
 * Running a candidate's gates: each one recorded in the store as it starts (a re-run counts its
 * attempt up and voids the approvals given so far) and as it ends, with its report; a gate that
 * throws is `error`, with what it said. Then the candidate becomes `ready` only when every gate of
 * the registry passed, else `failed`. The candidate is `gating` throughout, so nobody can approve
 * it meanwhile, and a run killed half way leaves it `gating` until the next command finds it
 * interrupted (interrupted.ts) and fails it.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { isCompatError } from "../../errors.js";
import type { SiteConfig } from "../../site/load.js";
import { type Candidate, listCandidates, transitionCandidate } from "../../store/candidates.js";
import { finishGate, type GateResult, listGates, startGate } from "../../store/gates.js";
import type { Store } from "../../store/store.js";
import type { CandidateContext } from "../candidate-context.js";
import { emitUpdateEvent } from "../events.js";
import { requiredGates } from "./registry.js";
import type { Gate, GateOutcome } from "./types.js";

export interface GateRunOptions {
  /** Who runs them (the audit log's actor). */
  actor: string;
  /** The store run this gate run belongs to. */
  runId?: number;
  signal?: AbortSignal;
  onStart?: (gate: Gate) => void;
  onNote?: (gate: Gate, message: string) => void;
  onEnd?: (gate: Gate, result: GateResult) => void;
}

export interface GatesOutcome {
  candidate: Candidate;
  gates: GateResult[];
}

/** Run `gates` (default: all) on a `gating` candidate, then make it `ready` or `failed`. */
export async function runGates(
  site: SiteConfig,
  store: Store,
  cc: CandidateContext,
  opts: GateRunOptions,
  gates: readonly Gate[] = requiredGates(site.layers[cc.layer.name]),
): Promise<GatesOutcome> {
  const required = requiredGates(site.layers[cc.layer.name]);
  const id = cc.candidate.id;
  const ref = { target: cc.target.name, layer: cc.layer.name, arch: cc.layer.arch };
  for (const gate of gates) {
    opts.signal?.throwIfAborted();
    const started = await startGate(store, id, gate.id, { actor: opts.actor, runId: opts.runId });
    opts.onStart?.(gate);
    const workDir = join(cc.update.dir, "gates", `${gate.id}-${started.attempt}`);
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });
    let outcome: GateOutcome | { state: "error"; summary: string; report: GateOutcome["report"] };
    try {
      outcome = await gate.run({
        ...cc,
        site,
        store,
        workDir,
        signal: opts.signal,
        note: (m) => opts.onNote?.(gate, m),
      });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const err = e as Error & { details?: string[]; hint?: string };
      outcome = {
        state: "error",
        summary: err.message,
        report: {
          error: {
            message: err.message,
            details: isCompatError(e) ? e.details : [],
            hint: isCompatError(e) ? (e.hint ?? null) : null,
            internal: !isCompatError(e),
          },
        },
      };
    } finally {
      await rm(workDir, { recursive: true, force: true, maxRetries: 3 });
    }
    const result = await finishGate(store, id, gate.id, {
      state: outcome.state,
      report: { ...outcome.report, summary: outcome.summary },
      actor: opts.actor,
    });
    opts.onEnd?.(gate, result);
    if (result.state !== "passed")
      await emitUpdateEvent(site, store, {
        ...ref,
        event: "gate-failed",
        candidate: id,
        gate: gate.id,
        reason: outcome.summary,
      });
  }
  const all = await listGates(store, id);
  const passed = new Set(all.filter((g) => g.state === "passed").map((g) => g.gate));
  const green = required.every((g) => passed.has(g.id));
  const failing = required.filter((g) => !passed.has(g.id)).map((g) => g.id);
  const candidate = await transitionCandidate(store, id, green ? "ready" : "failed", {
    actor: opts.actor,
    reason: green ? "every gate passed" : `gate ${failing.join(", ")} did not pass`,
  });
  if (green) {
    await supersedeOlder(store, candidate, opts.actor);
    await emitUpdateEvent(site, store, {
      ...ref,
      event: "candidate-ready",
      candidate: id,
      sha256: candidate.fullSha256!,
      gates: required.map((g) => g.id),
    });
  }
  return { candidate, gates: all };
}

/**
 * A candidate that became ready replaces the older open ones of its layer, arch and target: they
 * were built over the same or an older layer, and approvers should look at the newest only.
 */
export async function supersedeOlder(store: Store, c: Candidate, actor: string): Promise<number[]> {
  const older = await listCandidates(store, {
    layer: c.layer,
    arch: c.arch,
    target: c.target,
    state: ["ready", "approved"],
    limit: 1000,
  });
  const out: number[] = [];
  for (const o of older.filter((x) => x.id < c.id)) {
    await transitionCandidate(store, o.id, "superseded", {
      actor,
      reason: `candidate ${c.id} is newer`,
    }).then(
      () => out.push(o.id),
      () => {},
    );
  }
  return out;
}
