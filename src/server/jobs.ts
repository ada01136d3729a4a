/**
 * Jobs: what the server does for its users runs as a separate `compat` process, the same command
 * a person would type (`compat update dev --arch x86_64 --json`), so the web UI and the command
 * line cannot differ. Each job
 *   - holds a lease in the store for what it works on (`job:update:dev:x86_64`), so that however
 *     many servers share one PostgreSQL store, the same job is started once (a second request is
 *     told who holds it);
 *   - is a run in the store (kind `job`, this server's pid), with its output in a log file under
 *     `<state>/jobs/` that the runs page streams while it grows;
 *   - acts as the user who asked (COMPAT_ACTOR), so the core's audit rows and approval policy see
 *     that user;
 *   - stops when the server goes away: its stdin is a pipe from the server, and the command stops
 *     as on SIGTERM when the pipe closes (also after a SIGKILL of the server). The server's next
 *     start finds the run of a dead server and marks it interrupted.
 * A job that fails (exit ≠ 0, killed) is a failed run with its log; the server goes on.
 */
import type { ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CompatError, type ErrorOptions } from "../errors.js";
import { spawnStreaming } from "../exec/stream.js";
import { appendAudit } from "../store/audit.js";
import { type Lease, releaseLease, renewLease, tryTakeLease } from "../store/leases.js";
import { finishRun, type RunRecord, type RunState, startRun } from "../store/runs.js";
import type { Store } from "../store/store.js";

/** Another job holds the lease: the same work is already running (here or on another server). */
export class JobBusyError extends CompatError {
  constructor(
    message: string,
    readonly holder: Lease,
    options: ErrorOptions = {},
  ) {
    super("check", message, options);
    this.name = "JobBusyError";
  }
}

export interface JobSpec {
  /** What the job does: update, approve, reject, promote, rollback, watch. */
  action: string;
  /** The arguments after `compat`. */
  args: string[];
  /** The lease that makes the job run once (e.g. `job:update:dev:x86_64`). */
  lease: string;
  /** The user it runs for. */
  actor: string;
  layer?: string;
  arch?: string;
}

export interface JobResult {
  run: RunRecord;
  state: Exclude<RunState, "running">;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** What the command printed on stdout (its --json result), at most 1 MiB. */
  stdout: string;
  /** The last lines it printed on stderr (its error message). */
  stderrTail: string;
  durationMs: number;
}

export interface Job {
  run: RunRecord;
  spec: JobSpec;
  pid: number | undefined;
  done: Promise<JobResult>;
}

export interface JobRunnerOptions {
  /** Where job logs go: `<dir>/<run id>.log`. */
  logDir: string;
  /** The working directory of jobs (the site config's directory). */
  cwd: string;
  /** The command that is `compat` (default: this Node.js and this installation's bin.js). */
  compat?: string[];
  /** Lease time without renewal (default 60 s; renewed every third of it while the job runs). */
  leaseTtlMs?: number;
  onFinish?: (job: Job, result: JobResult) => void;
}

const MAX_STDOUT = 1 << 20;
const STDERR_TAIL = 8 << 10;

/** `node …/cli/bin.js` of this installation (dist/ when running from src/ in tests). */
export function defaultCompatCommand(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, "../cli/bin.js");
  const built = join(here, "../../dist/cli/bin.js");
  return [process.execPath, existsSync(beside) ? beside : built];
}

export class JobRunner {
  readonly #store: Store;
  readonly #opts: JobRunnerOptions;
  readonly #running = new Map<number, Job & { child: ChildProcess }>();
  #stopping = false;

  constructor(store: Store, opts: JobRunnerOptions) {
    this.#store = store;
    this.#opts = opts;
    mkdirSync(opts.logDir, { recursive: true });
  }

  running(): Job[] {
    return [...this.#running.values()];
  }

  /** Start a job; JobBusyError (exit 3, HTTP 409) when its lease is held. */
  async start(spec: JobSpec): Promise<Job> {
    if (this.#stopping) throw new CompatError("tool", "the server is shutting down: no new job starts");
    const ttl = this.#opts.leaseTtlMs ?? 60_000;
    const summary = `compat ${spec.args.join(" ")}`;
    const taken = await tryTakeLease(this.#store, spec.lease, {
      purpose: summary,
      owner: spec.actor,
      ttlMs: ttl,
    });
    if ("heldBy" in taken) {
      const h = taken.heldBy;
      throw new JobBusyError(
        `${spec.lease} is running: ${h.purpose} (for ${h.owner} on ${h.host}, since ${h.acquiredAt})`,
        h,
      );
    }
    const lease = taken.lease;
    let run: RunRecord;
    try {
      run = await startRun(this.#store, {
        kind: "job",
        layer: spec.layer,
        arch: spec.arch,
        detail: { action: spec.action, args: spec.args, by: spec.actor },
      });
    } catch (e) {
      await releaseLease(this.#store, lease).catch(() => {});
      throw e;
    }
    const logPath = join(this.#opts.logDir, `${run.id}.log`);
    await this.#store.db.updateTable("runs").set({ log_path: logPath }).where("id", "=", run.id).execute();
    run = { ...run, logPath };
    await appendAudit(this.#store, {
      actor: spec.actor,
      action: "job.started",
      subject: `run:${run.id}`,
      detail: { action: spec.action, command: summary },
    });

    const log = openSync(logPath, "a", 0o640);
    writeSync(log, `$ ${summary}\n`);
    const [cmd, ...pre] = this.#opts.compat ?? defaultCompatCommand();
    const started = Date.now();
    // through exec/ as every process compat starts; the job's own close and error handlers below
    // say how it ended (the exit status and the signal apart), so its `done` is not used
    const proc = spawnStreaming(cmd!, [...pre, ...spec.args], {
      cwd: this.#opts.cwd,
      env: { ...process.env, COMPAT_ACTOR: spec.actor, COMPAT_EXIT_WITH_PARENT: "1", NO_COLOR: "1" },
    });
    const { child } = proc;
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (c: Buffer) => {
      writeSync(log, c);
      if (stdout.length < MAX_STDOUT) stdout += c.toString("utf8");
    });
    child.stderr!.on("data", (c: Buffer) => {
      writeSync(log, c);
      stderr = (stderr + c.toString("utf8")).slice(-STDERR_TAIL);
    });
    const renew = setInterval(() => {
      renewLease(this.#store, lease, ttl).catch(() => {});
    }, ttl / 3);
    renew.unref();

    const done = new Promise<JobResult>((resolve) => {
      let spawnError: Error | undefined;
      child.on("error", (e) => {
        spawnError = e;
      });
      child.on("close", async (code, signal) => {
        clearInterval(renew);
        if (spawnError) writeSync(log, `compat serve: cannot start the job: ${spawnError.message}\n`);
        const state: JobResult["state"] =
          code === 0 ? "succeeded" : signal !== null || code === 130 ? "interrupted" : "failed";
        writeSync(
          log,
          `\n[${state}${code !== null ? `, exit ${code}` : ""}${signal ? `, ${signal}` : ""}]\n`,
        );
        closeSync(log);
        const durationMs = Date.now() - started;
        let ended: RunRecord | undefined;
        try {
          ended = await finishRun(this.#store, run.id, {
            state,
            exitCode: code ?? undefined,
            detail: { action: spec.action, args: spec.args, by: spec.actor, pid: child.pid ?? null, signal },
          });
          await appendAudit(this.#store, {
            actor: spec.actor,
            action: `job.${state}`,
            subject: `run:${run.id}`,
            detail: { action: spec.action, exitCode: code, signal },
          });
        } catch {
          // the store is unreachable: the next start marks the run interrupted
        }
        await releaseLease(this.#store, lease).catch(() => {});
        this.#running.delete(run.id);
        const result: JobResult = {
          run: ended ?? { ...run, state, exitCode: code },
          state,
          exitCode: code,
          signal,
          stdout,
          stderrTail: stderr,
          durationMs,
        };
        this.#opts.onFinish?.(job, result);
        resolve(result);
      });
    });
    // the child's stdin stays open for its life: closing it (or our death) tells it to stop
    proc.stdin.on("error", () => {});
    const job = { run, spec, pid: child.pid, done, child };
    this.#running.set(run.id, job);
    return job;
  }

  /**
   * Shut down: no new jobs; running ones get `graceMs` to finish, then SIGTERM (the command stops
   * and says it was interrupted), then SIGKILL. Every run ends recorded.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.#stopping = true;
    const jobs = [...this.#running.values()];
    if (jobs.length === 0) return;
    const all = Promise.all(jobs.map((j) => j.done));
    const timeout = (ms: number) => new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms).unref());
    if ((await Promise.race([all, timeout(graceMs)])) !== "timeout") return;
    for (const j of this.#running.values()) j.child.kill("SIGTERM");
    if ((await Promise.race([all, timeout(10_000)])) !== "timeout") return;
    for (const j of this.#running.values()) j.child.kill("SIGKILL");
    await all;
  }
}
