/**
 * Streaming child processes for packing, verifying and publishing: a program whose stdin and/or
 * stdout we stream (compressors, tar, ssh). Like run.ts it logs the command, names the
 * Debian package of a missing program, and turns a bad exit status into a ToolError with the tail
 * of stderr; unlike run() the caller owns the streams, so nothing is held in memory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { ToolError } from "../errors.js";
import { log } from "../log.js";
import { formatCommand, missingToolError } from "./run.js";

export interface StreamingProcess {
  child: ChildProcess;
  stdin: Writable;
  stdout: Readable;
  /** Resolves with the exit status when it is in okStatuses, else rejects with a ToolError. */
  done: Promise<number>;
  /** The command as a shell would show it, for messages. */
  printable: string;
  stderrTail(): string;
  kill(signal?: NodeJS.Signals): void;
}

export interface StreamingOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  okStatuses?: number[];
  /** stdout not read by the caller goes to /dev/null. */
  discardStdout?: boolean;
  /** Or straight into this open file descriptor (e.g. the file being written). */
  stdoutFd?: number;
}

const TAIL = 4096;

export function spawnStreaming(
  cmd: string,
  args: readonly string[],
  opts: StreamingOptions = {},
): StreamingProcess {
  const printable = formatCommand(cmd, args);
  log.debug(`$ ${printable}`);
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ["pipe", opts.stdoutFd ?? (opts.discardStdout ? "ignore" : "pipe"), "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
    if (stderr.length > TAIL * 4) stderr = stderr.slice(-TAIL);
  });
  // A consumer that stops early must not crash us with EPIPE; the exit status tells what happened.
  child.stdin?.on("error", () => {});
  const done = new Promise<number>((resolve, reject) => {
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") reject(missingToolError(cmd));
      else reject(new ToolError(`${cmd}: ${err.message}`, { command: printable, exitStatus: null }));
    });
    child.on("close", (code, sig) => {
      const status = code ?? 128 + (sig === "SIGKILL" ? 9 : sig === "SIGTERM" ? 15 : 0);
      if ((opts.okStatuses ?? [0]).includes(status)) resolve(status);
      else {
        const lines = stderr.trimEnd().split("\n").filter(Boolean).slice(-10);
        reject(
          new ToolError(
            `${cmd} failed with exit status ${status}${sig ? ` (${sig})` : ""}`,
            { command: printable, exitStatus: status, stderrTail: stderr.slice(-TAIL) },
            { details: [`command: ${printable}`, ...lines] },
          ),
        );
      }
    });
  });
  // Callers usually await `done` late; keep an early failure from being an unhandled rejection.
  done.catch(() => {});
  return {
    child,
    stdin: child.stdin!,
    stdout: child.stdout ?? (undefined as unknown as Readable),
    done,
    printable,
    stderrTail: () => stderr.slice(-TAIL),
    kill: (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Write a chunk and wait for the stream to drain when its buffer is full; rejects once it is closed. */
export function writeWithBackpressure(out: Writable, chunk: Buffer): Promise<void> | undefined {
  if (out.destroyed || out.writableEnded)
    return Promise.reject(new Error("the stream was closed before all data was written"));
  if (out.write(chunk)) return undefined;
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      out.off("drain", onDrain);
      out.off("error", onError);
      out.off("close", onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("the stream was closed before all data was written"));
    };
    out.once("drain", onDrain);
    out.once("error", onError);
    out.once("close", onClose);
    // Destroyed between the write and now (e.g. EPIPE): no event will come any more.
    if (out.destroyed) onClose();
  });
}
