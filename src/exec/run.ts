/**
 * The one way to run an external program: logs the command, streams its output (to a log file
 * and/or callbacks), enforces a timeout, and turns a non-zero exit or a missing binary into a
 * typed ToolError that carries the tail of stderr.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Writable } from "node:stream";
import { ToolError } from "../errors.js";
import { log } from "../log.js";

/** Debian package that provides each external tool we call; used in "missing tool" errors. */
export const TOOL_PACKAGES: Record<string, string> = {
  mmdebstrap: "mmdebstrap",
  "arch-test": "arch-test",
  gpgv: "gpgv",
  patchelf: "patchelf",
  bwrap: "bubblewrap",
  zstd: "zstd",
  tar: "tar",
  gzip: "gzip",
  pigz: "pigz",
  perl: "perl-base",
  ssh: "openssh-client",
  git: "git",
  localedef: "libc-bin",
  cvmfs_server: "cvmfs-server (from CernVM-FS, not in Debian)",
  strace: "strace",
  file: "file",
  unshare: "util-linux",
  umount: "mount",
  setsid: "util-linux",
  sbatch: "slurm-client",
  squeue: "slurm-client",
  sacct: "slurm-client",
  scontrol: "slurm-client",
  scancel: "slurm-client",
};

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, then stdin is closed. Without it stdin is /dev/null (or inherited with `stdio: "inherit"`). */
  input?: string | Buffer;
  /** Kill the process group after this many milliseconds. */
  timeoutMs?: number;
  /** Every chunk of stdout and stderr is also written here (e.g. a stage's log file). */
  logTo?: Writable;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Exit statuses that are not errors (default [0]). */
  okStatuses?: number[];
  /** Keep stdout in memory (default true). Turn off for large outputs that go to logTo. */
  captureStdout?: boolean;
  /** Run attached to the terminal (interactive shells). Output is then not captured. */
  stdio?: "pipe" | "inherit";
  /** Signal to send on timeout or abort. */
  killSignal?: NodeJS.Signals;
  signal?: AbortSignal;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

const STDERR_TAIL_BYTES = 4096;

export function formatCommand(cmd: string, args: readonly string[]): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);
  return [cmd, ...args].map(q).join(" ");
}

export function missingToolError(cmd: string): ToolError {
  const pkg = TOOL_PACKAGES[cmd.split("/").pop() ?? cmd];
  return new ToolError(
    `${cmd}: command not found`,
    { command: cmd, exitStatus: null },
    { hint: pkg ? `install it with: apt-get install ${pkg}` : `install ${cmd} and make sure it is on PATH` },
  );
}

/** Run a program to completion. Rejects with ToolError unless the exit status is in okStatuses. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const printable = formatCommand(cmd, args);
  log.debug(`$ ${printable}`);
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio:
          opts.stdio === "inherit"
            ? "inherit"
            : [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        detached: opts.stdio !== "inherit",
      });
    } catch (e) {
      reject(e);
      return;
    }
    const stdoutChunks: Buffer[] = [];
    let stderrAll = "";
    let timedOut = false;
    const killSignal = opts.killSignal ?? "SIGTERM";
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        if (opts.stdio === "inherit") child.kill(killSignal);
        else process.kill(-child.pid, killSignal);
      } catch {
        /* already gone */
      }
    };
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup();
          }, opts.timeoutMs);
    const onAbort = () => killGroup();
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    child.stdout?.on("data", (c: Buffer) => {
      if (opts.captureStdout !== false) stdoutChunks.push(c);
      opts.logTo?.write(c);
      opts.onStdout?.(c);
    });
    child.stderr?.on("data", (c: Buffer) => {
      stderrAll += c.toString("utf8");
      if (stderrAll.length > 1 << 20) stderrAll = stderrAll.slice(-STDERR_TAIL_BYTES * 4);
      opts.logTo?.write(c);
      opts.onStderr?.(c);
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {
        /* the program may exit before reading all input; its status tells what happened */
      });
      child.stdin.end(opts.input);
    }
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (err.code === "ENOENT") reject(missingToolError(cmd));
      else reject(new ToolError(`${cmd}: ${err.message}`, { command: printable, exitStatus: null }));
    });
    child.on("close", (code, sig) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      const durationMs = Date.now() - started;
      const stdout = Buffer.concat(stdoutChunks).toString("utf8");
      const status = code ?? 128 + (sig ? signalNumber(sig) : 0);
      const ok = opts.okStatuses ?? [0];
      if (timedOut) {
        reject(
          new ToolError(
            `${cmd} timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`,
            { command: printable, exitStatus: status, stderrTail: tail(stderrAll) },
            { details: tailLines(stderrAll) },
          ),
        );
        return;
      }
      if (!ok.includes(status)) {
        reject(
          new ToolError(
            `${cmd} failed with exit status ${status}${sig ? ` (${sig})` : ""}`,
            { command: printable, exitStatus: status, stderrTail: tail(stderrAll) },
            { details: [`command: ${printable}`, ...tailLines(stderrAll)] },
          ),
        );
        return;
      }
      resolve({ status, stdout, stderr: stderrAll, durationMs });
    });
  });
}

function tail(s: string): string {
  return s.length > STDERR_TAIL_BYTES ? s.slice(-STDERR_TAIL_BYTES) : s;
}

function tailLines(s: string, n = 15): string[] {
  return s.trimEnd().split("\n").filter(Boolean).slice(-n);
}

function signalNumber(sig: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return table[sig] ?? 0;
}

/** Resolve a program on PATH, or throw the "missing tool" error naming its Debian package. */
export async function requireTool(cmd: string): Promise<string> {
  const { access, constants } = await import("node:fs/promises");
  const { delimiter, join } = await import("node:path");
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw missingToolError(cmd);
}
