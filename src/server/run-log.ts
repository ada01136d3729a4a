/**
 * A run's log for the browser: its tail for the run page, or the whole file streamed as it grows
 * (chunked plain text) until the run ends. Only a log file inside the state directory is read: a
 * run's log path comes from the store, and the store is not trusted to name files on this host.
 */
import { constants } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { isInside } from "../paths/rules.js";
import type { RunRecord } from "../store/runs.js";

export type LogFile = { path: string } | { missing: string };

export async function logFileOf(stateDir: string, run: RunRecord): Promise<LogFile> {
  if (run.logPath === null) return { missing: "this run keeps no log the server can show" };
  let real: string;
  let root: string;
  try {
    [real, root] = await Promise.all([realpath(run.logPath), realpath(stateDir)]);
  } catch {
    return { missing: "its log file is gone" };
  }
  if (!isInside(real, root)) return { missing: "its log is outside the state directory: see it on the host" };
  const st = await stat(real).catch(() => undefined);
  if (!st?.isFile()) return { missing: "its log is not a regular file" };
  return { path: real };
}

/** The last `max` bytes of the log (decoded as UTF-8, a partial first line dropped). */
export async function logTail(path: string, max = 64 * 1024): Promise<{ text: string; truncated: boolean }> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const size = (await fh.stat()).size;
    const start = Math.max(0, size - max);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    let text = buf.toString("utf8");
    if (start > 0) text = text.slice(text.indexOf("\n") + 1);
    return { text, truncated: start > 0 };
  } finally {
    await fh.close();
  }
}

/**
 * The log from its start, then whatever is appended, until `running()` says the run ended (and
 * what it wrote last was read) or `signal` aborts (the client went away, the server stops).
 */
export function followLog(path: string, running: () => Promise<boolean>, signal: AbortSignal): Readable {
  async function* chunks() {
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      let offset = 0;
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        if (signal.aborted) return;
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead > 0) {
          offset += bytesRead;
          yield Buffer.from(buf.subarray(0, bytesRead));
          continue;
        }
        if (!(await running())) {
          // one more read: what it wrote between our last read and its end
          const last = await fh.read(buf, 0, buf.length, offset);
          if (last.bytesRead > 0) {
            offset += last.bytesRead;
            yield Buffer.from(buf.subarray(0, last.bytesRead));
            continue;
          }
          return;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 300);
          signal.addEventListener(
            "abort",
            () => {
              clearTimeout(t);
              resolve();
            },
            { once: true },
          );
        });
      }
    } finally {
      await fh.close();
    }
  }
  return Readable.from(chunks());
}
