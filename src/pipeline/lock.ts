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
import { open, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { InputError } from "../errors.js";
import { isZombie, processesWithEnv, processStart } from "../exec/processes.js";
import { RUN_ID_ENV } from "../exec/sandbox.js";
import { printableText } from "../text.js";

export { processStart, RUN_ID_ENV };

interface LockHolder {
  pid: number;
  start: string;
  what: string;
  /** The host the holder runs on: a state dir may be on a file system several hosts share. */
  host?: string;
}

/**
 * Whether the holder may still be running. A pid and a start time mean something only on the host
 * they were taken on: another host's holder is never judged dead here (its lock is not taken over,
 * its use of a build root counts), so two hosts sharing a state dir never both hold one lock.
 */
export function holderAlive(h: { pid?: unknown; start?: unknown; host?: unknown }): boolean {
  if (typeof h.host === "string" && h.host !== hostname()) return true;
  return typeof h.pid === "number" && Number.isInteger(h.pid) && h.pid > 0 && processStart(h.pid) === h.start;
}

/** This process as a lock or use-mark holder. */
export function thisHolder(): { pid: number; start: string; host: string } {
  return { pid: process.pid, start: processStart(process.pid) ?? "", host: hostname() };
}

/** A holder's `what`, as read from a file anyone may have written: one line, escaped, cut. */
const shownWhat = (what: unknown) => {
  const s = typeof what === "string" ? what : "a process";
  return printableText(s.length > 200 ? `${s.slice(0, 200)}…` : s).replace(/\n/g, "\\n");
};

/** What the live holder of a lock file is doing (its `what`), or undefined when no live process holds it. */
export function liveLockHolder(file: string): string | undefined {
  try {
    const h = JSON.parse(readFileSync(file, "utf8")) as LockHolder;
    return holderAlive(h) ? shownWhat(h.what) : undefined;
  } catch {
    return undefined;
  }
}

/** A takeover guard older than this was left by a process killed while it took a lock over. */
const GUARD_STALE_MS = 30_000;

export class PidLock {
  private constructor(readonly file: string) {}

  /**
   * Take the lock, or fail naming who holds it. `what` says what the holder is doing, for that
   * message (e.g. "build run 2025…"). A stale lock (its holder dead on this host) is taken over
   * under a guard file made with O_EXCL, and only when it still holds what was judged stale: two
   * processes that both find it stale never both take it. `paused` (tests) runs between judging
   * the lock stale and taking it over.
   */
  static async acquire(file: string, what: string, paused?: () => Promise<void>): Promise<PidLock> {
    const me: LockHolder = { ...thisHolder(), what };
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const fh = await open(file, "wx");
        await fh.writeFile(JSON.stringify(me));
        await fh.close();
        return new PidLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue; // released meanwhile
        throw e;
      }
      let holder: LockHolder | undefined;
      try {
        holder = JSON.parse(text) as LockHolder;
      } catch {
        holder = undefined; // half-written by a process killed while writing it: stale
      }
      if (holder && holderAlive(holder))
        throw new InputError(
          `${shownWhat(holder.what)} is in progress (pid ${Number(holder.pid)}${typeof holder.host === "string" && holder.host !== hostname() ? ` on ${printableText(holder.host.slice(0, 100))}` : ""}; lock ${file})`,
          { hint: "wait for it to finish, or stop that process first" },
        );
      await paused?.();
      await takeOver(file, text);
    }
    throw new InputError(`could not take the lock ${file}: another process keeps taking it`);
  }

  async release(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

/** Remove the stale lock `file` if it still reads `stale`, under the takeover guard (else leave it). */
async function takeOver(file: string, stale: string): Promise<void> {
  const guard = `${file}.takeover`;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(guard, "wx");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    // another process is taking it over; a guard left by one killed meanwhile goes after a while
    const st = await stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > GUARD_STALE_MS) await rm(guard, { force: true });
    await new Promise((r) => setTimeout(r, 20));
    return;
  }
  try {
    await fh.close();
    const now = await readFile(file, "utf8").catch(() => undefined);
    if (now === stale) await rm(file, { force: true });
  } finally {
    await rm(guard, { force: true });
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
