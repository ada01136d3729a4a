/**
 * Process locks for builds, and clean-up after a build process that was killed.
 *
 * A lock file holds the pid and the kernel start time of the holder, so a lock left by a killed
 * process (or a pid reused by another program) is recognised as stale and taken over.
 *
 * Every program a build starts carries `COMPAT_RUN_ID=<run id>` in its environment. When a build
 * process is killed with SIGKILL, the programs it started in their own process groups (mmdebstrap,
 * patchelf, …) keep running; before a resumed build reruns a stage they are found through
 * /proc/<pid>/environ and killed, so they cannot write into what the rerun rebuilds.
 */
import { readFileSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { InputError } from "../errors.js";
import { isZombie, processesWithEnv, processStart } from "../exec/processes.js";
import { RUN_ID_ENV } from "../exec/sandbox.js";

export { processStart, RUN_ID_ENV };

interface LockHolder {
  pid: number;
  start: string;
  what: string;
}

function holderAlive(h: LockHolder): boolean {
  return processStart(h.pid) === h.start;
}

/** What the live holder of a lock file is doing (its `what`), or undefined when no live process holds it. */
export function liveLockHolder(file: string): string | undefined {
  try {
    const h = JSON.parse(readFileSync(file, "utf8")) as LockHolder;
    return holderAlive(h) ? h.what : undefined;
  } catch {
    return undefined;
  }
}

export class PidLock {
  private constructor(readonly file: string) {}

  /**
   * Take the lock, or fail naming who holds it. `what` says what the holder is doing, for that
   * message (e.g. "build run 2025…").
   */
  static async acquire(file: string, what: string): Promise<PidLock> {
    const me: LockHolder = { pid: process.pid, start: processStart(process.pid) ?? "", what };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(file, "wx");
        await fh.writeFile(JSON.stringify(me));
        await fh.close();
        return new PidLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      let holder: LockHolder | undefined;
      try {
        holder = JSON.parse(await readFile(file, "utf8")) as LockHolder;
      } catch {
        holder = undefined; // half-written by a process killed while writing it: stale
      }
      if (holder && holderAlive(holder))
        throw new InputError(`${holder.what} is in progress (pid ${holder.pid}; lock ${file})`, {
          hint: "wait for it to finish, or stop that process first",
        });
      await rm(file, { force: true });
    }
    throw new InputError(`could not take the lock ${file}: another process keeps taking it`);
  }

  async release(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

/** Pids of the processes whose environment carries this run id (other than this process). */
export function processesOfRun(runId: string): number[] {
  return processesWithEnv(RUN_ID_ENV, runId);
}

/** SIGKILL what a killed build left running, and wait until it is gone. Returns how many there were. */
export async function killLeftovers(runId: string, timeoutMs = 10_000): Promise<number> {
  const pids = processesOfRun(runId);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  const until = Date.now() + timeoutMs;
  while (pids.some((p) => processStart(p) !== undefined && !isZombie(p)) && Date.now() < until)
    await new Promise((r) => setTimeout(r, 50));
  return pids.length;
}
