/**
 * One lock per repository: a file created with O_EXCL holding the owner's pid, host and start
 * time. A lock whose owner is gone (same host, no such process) is stale: it is moved aside with
 * a rename (only one of several waiters can win that) and taken again.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { ValidationError } from "../errors.js";
import { log } from "../log.js";

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  command: string;
}

export interface RepositoryLock {
  path: string;
  release(): void;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as LockOwner;
  } catch {
    return undefined;
  }
}

export function acquireLock(path: string, what: string): RepositoryLock {
  const me: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    command: what,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(me)}\n`, { flag: "wx", mode: 0o644 });
      return {
        path,
        release: () => {
          if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = readOwner(path);
    // A lock file being written right now has no content yet: not stale, just young.
    const stale = owner !== undefined && owner.host === me.host && !processAlive(owner.pid);
    if (!stale)
      throw new ValidationError(
        `the repository is locked by ${owner ? `${owner.command} (pid ${owner.pid} on ${owner.host} since ${owner.since})` : "another process"}`,
        {
          details: [`lock file: ${path}`],
          hint: "wait for it to finish; a lock left by a process that died on this host is recovered automatically",
        },
      );
    const aside = `${path}.stale-${process.pid}-${attempt}`;
    try {
      renameSync(path, aside);
      rmSync(aside, { force: true });
      log.warn(`recovered a stale lock of pid ${owner.pid} (${owner.command}, since ${owner.since})`);
    } catch {
      /* someone else recovered it first; try again */
    }
  }
  throw new ValidationError(`could not take the repository lock ${path}`);
}
