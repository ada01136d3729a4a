/**
 * Where the cvmfs publisher's commands run: on this machine, or on the stratum 0 over ssh
 * (BatchMode, so a missing key fails instead of prompting). Remote arguments are quoted for the
 * remote shell; the exit status of ssh is the remote command's.
 */

import { type StreamingProcess, spawnStreaming } from "../artifacts/process.js";
import { formatCommand, type RunResult, run } from "../exec/run.js";

export interface CommandHost {
  /** For messages: `this host` or `ssh stratum0.example.org`. */
  readonly description: string;
  run(argv: string[], okStatuses?: number[]): Promise<RunResult>;
  /** A command whose stdin the caller streams. */
  spawn(argv: string[]): StreamingProcess;
}

export class LocalHost implements CommandHost {
  readonly description = "this host";
  run(argv: string[], okStatuses?: number[]): Promise<RunResult> {
    return run(argv[0]!, argv.slice(1), { okStatuses });
  }
  spawn(argv: string[]): StreamingProcess {
    return spawnStreaming(argv[0]!, argv.slice(1), { discardStdout: true });
  }
}

export class SshHost implements CommandHost {
  readonly description: string;

  constructor(
    private readonly destination: string,
    private readonly configFile?: string,
  ) {
    this.description = `ssh ${destination}`;
  }

  private args(argv: string[]): string[] {
    return [
      ...(this.configFile ? ["-F", this.configFile] : []),
      "-o",
      "BatchMode=yes",
      "-o",
      "ServerAliveInterval=30",
      "-T",
      this.destination,
      "--",
      formatCommand(argv[0]!, argv.slice(1)),
    ];
  }

  run(argv: string[], okStatuses?: number[]): Promise<RunResult> {
    return run("ssh", this.args(argv), { okStatuses });
  }

  spawn(argv: string[]): StreamingProcess {
    return spawnStreaming("ssh", this.args(argv), { discardStdout: true });
  }
}
