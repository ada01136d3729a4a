/**
 * The runs table: every long job (build, update, gate, watch …) with where it runs (host, pid)
 * and how it ended. A run whose process died without saying so is found by `interruptDeadRuns`.
 */
import { hostname } from "node:os";
import type { Selectable } from "kysely";
import { processStart } from "../pipeline/lock.js";
import { fromJsonText, type JsonValue, toJsonText } from "./json.js";
import type { RunsTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export const RUN_STATES = ["running", "succeeded", "failed", "interrupted"] as const;
export type RunState = (typeof RUN_STATES)[number];

export interface RunRecord {
  id: number;
  kind: string;
  layer: string | null;
  arch: string | null;
  state: RunState;
  startedAt: string;
  endedAt: string | null;
  host: string;
  pid: number;
  logPath: string | null;
  exitCode: number | null;
  detail: JsonValue | null;
}

export interface NewRun {
  kind: string;
  layer?: string;
  arch?: string;
  logPath?: string;
  detail?: JsonValue;
}

/** Record a run of this process, `running`. */
export async function startRun(store: Store, run: NewRun): Promise<RunRecord> {
  const row = await store.db
    .insertInto("runs")
    .values({
      kind: run.kind,
      layer: run.layer ?? null,
      arch: run.arch ?? null,
      state: "running",
      started_at: isoNow(),
      ended_at: null,
      host: hostname(),
      pid: process.pid,
      pid_start: processStart(process.pid) ?? null,
      log_path: run.logPath ?? null,
      exit_code: null,
      detail: run.detail === undefined ? null : toJsonText(run.detail),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRun(row);
}

/** End a running run; a run that already ended is left as it is (returns undefined). */
export async function finishRun(
  store: Store,
  id: number,
  end: { state: Exclude<RunState, "running">; exitCode?: number; detail?: JsonValue },
): Promise<RunRecord | undefined> {
  const row = await store.db
    .updateTable("runs")
    .set({
      state: end.state,
      ended_at: isoNow(),
      exit_code: end.exitCode ?? null,
      ...(end.detail === undefined ? {} : { detail: toJsonText(end.detail) }),
    })
    .where("id", "=", id)
    .where("state", "=", "running")
    .returningAll()
    .executeTakeFirst();
  return row && toRun(row);
}

/** Replace the detail of a run that is still running (a long job saying how far it got). */
export async function setRunDetail(store: Store, id: number, detail: JsonValue): Promise<void> {
  await store.db
    .updateTable("runs")
    .set({ detail: toJsonText(detail) })
    .where("id", "=", id)
    .where("state", "=", "running")
    .execute();
}

export async function getRun(store: Store, id: number): Promise<RunRecord | undefined> {
  const row = await store.db.selectFrom("runs").selectAll().where("id", "=", id).executeTakeFirst();
  return row && toRun(row);
}

export async function listRuns(
  store: Store,
  filter: { layer?: string; arch?: string; state?: RunState; limit?: number } = {},
): Promise<RunRecord[]> {
  let q = store.db.selectFrom("runs").selectAll();
  if (filter.layer !== undefined) q = q.where("layer", "=", filter.layer);
  if (filter.arch !== undefined) q = q.where("arch", "=", filter.arch);
  if (filter.state !== undefined) q = q.where("state", "=", filter.state);
  const rows = await q
    .orderBy("id", "desc")
    .limit(filter.limit ?? 100)
    .execute();
  return rows.map(toRun);
}

/**
 * Mark `interrupted` the runs of this host whose process is gone (killed, crashed, the machine
 * rebooted): a pid that now belongs to another process does not count as the run's.
 */
export async function interruptDeadRuns(store: Store): Promise<RunRecord[]> {
  const running = await store.db
    .selectFrom("runs")
    .selectAll()
    .where("state", "=", "running")
    .where("host", "=", hostname())
    .execute();
  const dead = running.filter((r) => {
    const start = processStart(r.pid);
    return start === undefined || (r.pid_start !== null && start !== r.pid_start);
  });
  const out: RunRecord[] = [];
  for (const r of dead) {
    const ended = await finishRun(store, r.id, { state: "interrupted" });
    if (ended) out.push(ended);
  }
  return out;
}

function toRun(row: Selectable<RunsTable>): RunRecord {
  return {
    id: row.id,
    kind: row.kind,
    layer: row.layer,
    arch: row.arch,
    state: row.state as RunState,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    host: row.host,
    pid: row.pid,
    logPath: row.log_path,
    exitCode: row.exit_code,
    detail: fromJsonText(row.detail),
  };
}
