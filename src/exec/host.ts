/**
 * Where the cvmfs publisher's commands run: on this machine, or on the stratum 0 over ssh
 * (BatchMode, so a missing key fails instead of prompting), both through run.ts and stream.ts. Remote arguments are quoted for the
 * remote shell; the exit status of ssh is the remote command's. `withEnv` gives every command
 * (and, over ssh, the remote command too) extra environment variables: the publish journal's id,
 * by which the programs of a killed publish are found again.
 */

import { formatCommand, type RunResult, run } from "./run.js";
import { type StreamingProcess, spawnStreaming } from "./stream.js";

export interface HostRunOptions {
  /** Exit statuses that are not errors (default [0]). */
  okStatuses?: number[];
  /** Written to the command's stdin. */
  input?: string | Buffer;
}

export interface CommandHost {
  /** For messages: `this host` or `ssh stratum0.example.org`. */
  readonly description: string;
  /** The host's name for ssh (undefined: this machine). */
  readonly remote?: string;
  run(argv: string[], opts?: number[] | HostRunOptions): Promise<RunResult>;
  /** A command whose stdin the caller streams (and its stdout, with `stdout: "pipe"`). */
  spawn(argv: string[], opts?: { stdout?: "discard" | "pipe" }): StreamingProcess;
  /** The same host, with these variables in the environment of every command. */
  withEnv(env: Record<string, string>): CommandHost;
}

const runOptions = (opts: number[] | HostRunOptions | undefined): HostRunOptions =>
  Array.isArray(opts) ? { okStatuses: opts } : (opts ?? {});

export class LocalHost implements CommandHost {
  readonly description = "this host";
  readonly remote = undefined;

  constructor(private readonly env: Record<string, string> = {}) {}

  private environment(): NodeJS.ProcessEnv | undefined {
    return Object.keys(this.env).length ? { ...process.env, ...this.env } : undefined;
  }

  run(argv: string[], opts?: number[] | HostRunOptions): Promise<RunResult> {
    const o = runOptions(opts);
    return run(argv[0]!, argv.slice(1), {
      okStatuses: o.okStatuses,
      input: o.input,
      env: this.environment(),
    });
  }

  spawn(argv: string[], opts: { stdout?: "discard" | "pipe" } = {}): StreamingProcess {
    return spawnStreaming(argv[0]!, argv.slice(1), {
      discardStdout: opts.stdout !== "pipe",
      env: this.environment(),
    });
  }

  withEnv(env: Record<string, string>): CommandHost {
    return new LocalHost({ ...this.env, ...env });
  }
}

export class SshHost implements CommandHost {
  readonly description: string;

  constructor(
    readonly remote: string,
    private readonly configFile?: string,
    private readonly env: Record<string, string> = {},
    /** More ssh options before the destination (e.g. `-p PORT`). */
    private readonly options: readonly string[] = [],
  ) {
    this.description = `ssh ${remote}`;
  }

  private args(argv: string[]): string[] {
    const vars = Object.entries(this.env).map(([k, v]) => `${k}=${v}`);
    const remote = vars.length ? ["env", ...vars, ...argv] : argv;
    return [
      ...(this.configFile ? ["-F", this.configFile] : []),
      "-o",
      "BatchMode=yes",
      "-o",
      "ServerAliveInterval=30",
      ...this.options,
      "-T",
      this.remote,
      "--",
      formatCommand(remote[0]!, remote.slice(1)),
    ];
  }

  /** The local ssh client carries the variables too: it is what a killed compat leaves on this side. */
  private environment(): NodeJS.ProcessEnv | undefined {
    return Object.keys(this.env).length ? { ...process.env, ...this.env } : undefined;
  }

  run(argv: string[], opts?: number[] | HostRunOptions): Promise<RunResult> {
    const o = runOptions(opts);
    return run("ssh", this.args(argv), { okStatuses: o.okStatuses, input: o.input, env: this.environment() });
  }

  spawn(argv: string[], opts: { stdout?: "discard" | "pipe" } = {}): StreamingProcess {
    return spawnStreaming("ssh", this.args(argv), {
      discardStdout: opts.stdout !== "pipe",
      env: this.environment(),
    });
  }

  withEnv(env: Record<string, string>): CommandHost {
    return new SshHost(this.remote, this.configFile, { ...this.env, ...env }, this.options);
  }
}
