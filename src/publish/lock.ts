/**
 * One lock per repository: a file holding the owner's pid, host and start time. It is written
 * under a name of its own first and then hard-linked to the lock's name (link() fails when the
 * name exists), so a lock file never exists without its owner in it, even when the taker is
 * killed half-way. A lock whose owner is gone (same host, no such process) is stale: it is moved
 * aside with a rename (only one of several waiters can win that) and taken again.
 */
import { linkSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { ValidationError } from "../errors.js";
import { pidAlive } from "../exec/pid.js";
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
  removeAbandonedDrafts(path);
  const draft = `${path}${DRAFT}${process.pid}`;
  writeFileSync(draft, `${JSON.stringify(me)}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(draft, path);
        return {
          path,
          release: () => {
            if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      recoverIfStale(path, me);
    }
  } finally {
    rmSync(draft, { force: true });
  }
  throw new ValidationError(`could not take the repository lock ${path}`);
}

/** A lock file's draft: `lock.draft-<pid>`. */
const DRAFT = ".draft-";

/** Drafts left by takers killed before they linked or removed them. */
function removeAbandonedDrafts(path: string): void {
  const prefix = `${basename(path)}${DRAFT}`;
  for (const name of readdirSync(dirname(path))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid))
      rmSync(join(dirname(path), name), { force: true });
  }
}

/** An empty or unreadable lock file older than this was left by an older compat killed half-way. */
const UNREADABLE_STALE_MS = 10_000;

function recoverIfStale(path: string, me: LockOwner): void {
  const owner = readOwner(path);
  let stale: boolean;
  if (owner) stale = owner.host === me.host && !pidAlive(owner.pid);
  else {
    try {
      stale = Date.now() - statSync(path).mtimeMs > UNREADABLE_STALE_MS;
    } catch {
      return; // gone meanwhile: try again
    }
  }
  if (!stale)
    throw new ValidationError(
      `the repository is locked by ${owner ? `${owner.command} (pid ${owner.pid} on ${owner.host} since ${owner.since})` : "another process"}`,
      {
        details: [`lock file: ${path}`],
        hint: "wait for it to finish; a lock left by a process that died on this host is recovered automatically",
      },
    );
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
    rmSync(aside, { force: true });
    log.warn(
      owner
        ? `recovered a stale lock of pid ${owner.pid} (${owner.command}, since ${owner.since})`
        : "recovered an empty lock file left by a process killed while it took the lock",
    );
  } catch {
    /* someone else recovered it first; try again */
  }
}
