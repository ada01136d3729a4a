/**
 * The cvmfs_server commands the cvmfs publisher uses, on the stratum 0 (this host or over ssh),
 * with the exit statuses measured against CernVM-FS 2.12 (DESIGN.md "Publishing"): `transaction`
 * while one is open → 17, `abort -f` with none open → 22. A failure carries the tail of both
 * stdout and stderr: cvmfs_server prints several refusals on stdout ("Open writable file
 * descriptors on …", "Current working directory is in /cvmfs/…", "… is not in a transaction").
 */

import { ToolError } from "../errors.js";
import type { CommandHost } from "../exec/host.js";
import type { RunResult } from "../exec/run.js";
import type { StreamingProcess } from "../exec/stream.js";
import { cvmfsMessage, cvmfsTagName } from "./cvmfs-text.js";

/** Exit statuses of cvmfs_server 2.12 that mean something specific. */
export const CVMFS_STATUS = { transactionOpen: 17, noTransaction: 22 } as const;

/** Where cvmfs_server keeps each repository's server.conf. */
export const CVMFS_CONFIG_DIR = "/etc/cvmfs/repositories.d";

const ANY_STATUS = Array.from({ length: 256 }, (_, i) => i);
const TAIL_LINES = 12;

/** Which transaction is open: cvmfs_server's lock file, by inode and change time (it is made anew for each). */
export interface TransactionLock {
  inode: string;
  ctime: string;
}

/** A process on the publishing host (or this one). */
export interface HostProcess {
  pid: number;
  where: string;
  command: string;
}

const LOCK_SCRIPT = `set -u
conf=$1/$2/server.conf spool=/var/spool/cvmfs/$2
if [ -r "$conf" ]; then
  s=$(sed -n 's/^CVMFS_SPOOL_DIR=//p' "$conf" | tail -n 1)
  [ -n "$s" ] && spool=$s
fi
[ -e "$spool/in_transaction.lock" ] || exit 1
exec stat -c '%i %.9Z' -- "$spool/in_transaction.lock"
`;

const PROCESS_SCRIPT = `set -u
for d in /proc/[0-9]*; do
  p=\${d#/proc/}
  [ "$p" = "$$" ] && continue
  if tr '\\0' '\\n' < "$d/environ" 2>/dev/null | grep -qxF -- "$1"; then
    printf '%s %s\\n' "$p" "$(tr '\\0' ' ' < "$d/cmdline" 2>/dev/null | cut -c1-300)"
  fi
done
exit 0
`;

function tail(label: string, text: string): string[] {
  const lines = text
    .trimEnd()
    .split("\n")
    .filter((l) => l.trim());
  return lines.length ? [`${label}:`, ...lines.slice(-TAIL_LINES).map((l) => `  ${l}`)] : [];
}

/** How cvmfs_server (and the shell it runs) words refusals and errors, on stdout or stderr. */
const REFUSAL =
  /WARNING|not in a transaction|Open writable file descriptors|Current working directory|unavailable|already|error|fail/i;

/**
 * Another publisher caught between taking cvmfs_server's transaction flag and remounting
 * /cvmfs/REPO read/write (or one that died there): the health check of `cvmfs_server transaction`
 * refuses before it changes anything ("REPO is in a transaction but /cvmfs/REPO is not mounted
 * read/write", "cannot be repaired", exit 1). Seen with two publishers started at once on 2.12.
 */
const OPENED_ELSEWHERE = /is in a transaction but \S+ is not mounted read\/write/;

const lines = (text: string) =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

/** The line that says why: a refusal or error (stderr's, then stdout's), else stderr's first or stdout's last line. */
function reason(r: RunResult): string | undefined {
  // lsof (run by publish to find open files) warns about every other FUSE mount it cannot stat: not the reason.
  const err = lines(r.stderr).filter((l) => !/^lsof: WARNING|^Output information may be incomplete/.test(l));
  const out = lines(r.stdout);
  return err.find((l) => REFUSAL.test(l)) ?? out.find((l) => REFUSAL.test(l)) ?? err[0] ?? out.at(-1);
}

export class CvmfsServer {
  constructor(
    readonly repository: string,
    readonly host: CommandHost,
    private readonly configDir = CVMFS_CONFIG_DIR,
  ) {}

  /** The same repository through another host object (e.g. one that tags every command). */
  on(host: CommandHost): CvmfsServer {
    return new CvmfsServer(this.repository, host, this.configDir);
  }

  /** Run `cvmfs_server ARGS`; a status outside `ok` is a ToolError with the tails of stdout and stderr. */
  async call(args: string[], ok: number[] = [0]): Promise<RunResult> {
    const r = await this.host.run(["cvmfs_server", ...args], ANY_STATUS);
    if (ok.includes(r.status)) return r;
    throw this.failure(args, r);
  }

  /** The error of `cvmfs_server ARGS` that ended as `r`, with the tails of its stdout and stderr. */
  private failure(args: string[], r: RunResult): ToolError {
    const why = reason(r);
    const printable = ["cvmfs_server", ...args].join(" ");
    return new ToolError(
      `cvmfs_server ${args[0]} ${this.repository} failed with exit status ${r.status}${why ? `: ${why}` : ""}`,
      { command: printable, exitStatus: r.status, stderrTail: r.stderr.slice(-4096) },
      {
        details: [
          `command: ${printable}${this.host.remote ? ` (on ${this.host.description})` : ""}`,
          ...tail("stdout", r.stdout),
          ...tail("stderr", r.stderr),
        ],
      },
    );
  }

  /**
   * Open a transaction (with `template`, a cheap copy of one directory to another first); "busy"
   * when another is open (exit 17) or being opened by someone else.
   */
  async transaction(template?: { from: string; to: string }): Promise<"opened" | "busy"> {
    const args = [
      "transaction",
      ...(template ? ["-T", `/${template.from}=/${template.to}`] : []),
      this.repository,
    ];
    const r = await this.call(args, ANY_STATUS);
    if (r.status === 0) return "opened";
    if (r.status === CVMFS_STATUS.transactionOpen || OPENED_ELSEWHERE.test(`${r.stderr}\n${r.stdout}`))
      return "busy";
    throw this.failure(args, r);
  }

  /** Publish the open transaction as a revision named `tag`, described by `message` (both made shell-safe). */
  async publish(tag: string, message: string): Promise<void> {
    await this.call(["publish", "-a", cvmfsTagName([tag]), "-m", cvmfsMessage(message), this.repository]);
  }

  /** `abort -f`: "none" when no transaction was open (exit 22). */
  async abort(): Promise<"aborted" | "none"> {
    const r = await this.call(["abort", "-f", this.repository], [0, CVMFS_STATUS.noTransaction]);
    return r.status === 0 ? "aborted" : "none";
  }

  /** Whether the repository has the named tag (`tag -i NAME -x`: 0 yes, 1 no). */
  async tagExists(tag: string): Promise<boolean> {
    const r = await this.call(["tag", "-i", cvmfsTagName([tag]), "-x", this.repository], [0, 1]);
    return r.status === 0;
  }

  /** `ingest --tar_file - --base_dir BASE`: the caller streams the tar into it. */
  ingest(baseDir: string): StreamingProcess {
    return this.host.spawn([
      "cvmfs_server",
      "ingest",
      "--tar_file",
      "-",
      "--base_dir",
      baseDir,
      this.repository,
    ]);
  }

  /** The open transaction's lock file, or null when none is open. */
  async transactionLock(): Promise<TransactionLock | null> {
    const r = await this.host.run(
      ["sh", "-c", LOCK_SCRIPT, "compat-cvmfs", this.configDir, this.repository],
      [0, 1],
    );
    if (r.status !== 0) return null;
    const [inode, ctime] = r.stdout.trim().split(" ");
    return inode && ctime ? { inode, ctime } : null;
  }

  /** Processes on the publishing host whose environment holds `name=value`. */
  async processesWithEnv(name: string, value: string): Promise<HostProcess[]> {
    const r = await this.host.run(["sh", "-c", PROCESS_SCRIPT, "compat-ps", `${name}=${value}`]);
    return r.stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const space = line.indexOf(" ");
        return {
          pid: Number(line.slice(0, space)),
          where: this.host.description,
          command: line.slice(space + 1).trim(),
        };
      });
  }
}
