/**
 * What this host's /proc says about processes: whether one still runs (by pid and kernel start
 * time, so a reused pid is not taken for the one that died) and which processes carry a marker
 * in their environment (programs a killed compat left running keep the marker it gave them).
 */
import { readdirSync, readFileSync } from "node:fs";

/** The kernel's start time of a process (field 22 of /proc/PID/stat), or undefined when it is gone. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may hold spaces and parentheses: split after its closing one
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** A process that exited but was not reaped yet (or is gone). */
export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Pids of the live processes (other than this one) whose environment holds `name=value`. */
export function processesWithEnv(name: string, value: string): number[] {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const first = Buffer.from(`${name}=${value}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`);
      if ((env.includes(needle) || env.subarray(0, first.length).equals(first)) && !isZombie(pid))
        pids.push(pid);
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

/** A process's command line (arguments joined by spaces), or "" when it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replaceAll("\0", " ");
  } catch {
    return "";
  }
}
