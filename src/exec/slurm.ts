/**
 * Slurm through its own clients, all run by the exec helper: `sbatch --parsable` submits, `squeue`
 * says whether the job is still queued or running, and its final state comes from `sacct`
 * (accounting, or `sacct -c` on a cluster with only jobcomp/filetxt), else `scontrol show job`
 * (kept while the job is younger than MinJobAge). `scancel` stops it.
 */
import { InputError, ToolError } from "../errors.js";
import { run } from "./run.js";

export interface SlurmJobEnd {
  state: string;
  /** The batch script's exit status (ExitCode=status:signal). */
  exitStatus: number;
  signal: number;
}

const JOB_ID_RE = /^[0-9]{1,12}$/;

/** Submit a batch script; returns the job id. A partition or constraint Slurm does not know is bad input (exit 2). */
export async function sbatch(args: string[], label: string): Promise<string> {
  let out: string;
  try {
    out = (await run("sbatch", ["--parsable", ...args])).stdout.trim();
  } catch (e) {
    if (!(e instanceof ToolError)) throw e;
    const why = e.stderrTail.trim().split("\n").pop() ?? "";
    if (/invalid partition|invalid feature|constraint/i.test(why))
      throw new InputError(`slurm refused ${label}: ${why.replace(/^sbatch: error: /, "")}`, {
        hint: "`sinfo -s` lists the partitions and `sinfo -o '%P %f'` their features: fix partition= or constraint= in the executor (--on, or executors: in compat.yaml)",
      });
    throw e;
  }
  // --parsable prints "id" or "id;cluster"
  const id = out.split(";")[0] ?? "";
  if (!JOB_ID_RE.test(id))
    throw new ToolError(`sbatch printed ${JSON.stringify(out.slice(0, 80))}, not a job id`, {
      command: "sbatch",
      exitStatus: 0,
    });
  return id;
}

/** The job's state while squeue lists it (PENDING, RUNNING, COMPLETING …), else undefined. */
export async function queuedState(jobId: string): Promise<string | undefined> {
  const r = await run("squeue", ["-h", "-j", jobId, "-o", "%T"], { okStatuses: [0, 1] });
  const state = r.stdout.trim().split("\n")[0]?.trim();
  return r.status === 0 && state ? state : undefined;
}

/** The final state of a job that left the queue. */
export async function finalState(jobId: string): Promise<SlurmJobEnd | undefined> {
  for (const args of [
    ["-n", "-P", "-X", "-j", jobId, "-o", "State,ExitCode"],
    ["-c", "-n", "-P", "-j", jobId, "-o", "State,ExitCode"],
  ]) {
    const r = await run("sacct", args, { okStatuses: [0, 1] }).catch(() => undefined);
    const line = r?.status === 0 ? r.stdout.trim().split("\n")[0] : undefined;
    const m = line ? /^([A-Z_]+)(?: by \d+)?\|(\d+):(\d+)$/.exec(line.trim()) : null;
    if (m) return { state: m[1]!, exitStatus: Number(m[2]), signal: Number(m[3]) };
  }
  const r = await run("scontrol", ["show", "job", "-o", jobId], { okStatuses: [0, 1] }).catch(
    () => undefined,
  );
  const state = r?.stdout.match(/\bJobState=([A-Z_]+)/)?.[1];
  const code = r?.stdout.match(/\bExitCode=(\d+):(\d+)/);
  if (state && code) return { state, exitStatus: Number(code[1]), signal: Number(code[2]) };
  return undefined;
}

/** Cancel a job, or (with a signal) send it to every process of the job, the batch shell included. */
export async function scancel(jobId: string, signal?: "TERM"): Promise<void> {
  await run("scancel", [...(signal ? ["--signal", signal, "--full"] : []), jobId], { okStatuses: [0, 1] });
}
