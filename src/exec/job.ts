/**
 * The one path by which compat runs itself somewhere else: a job is a directory of files (the spec
 * and what it names) and a generated `job.sh` that runs compat there; the executor decides only how
 * the script is started and followed.
 *
 *   local   `setsid -w sh job.sh` on this host, output streamed
 *   ssh     the same through ssh (BatchMode), output streamed back as it comes
 *   slurm   `sbatch job.sh` from this host into a work dir the nodes share; squeue/sacct follow the
 *           job and its log file is streamed while it runs; an interrupt is a `scancel`
 *
 * Every job first checks that the compat it finds is this compat's version (exit 99 otherwise).
 * What a job produces is collected the same way for all three: the job lists its outputs with their
 * sha256 in SHA256SUMS, each file is copied here under a temporary name while it is hashed, and only
 * when every hash equals what the build host reported are they renamed into place.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants, createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { CompatError, InputError, ToolError, ValidationError } from "../errors.js";
import { COMPAT_VERSION } from "../version.js";
import {
  type Executor,
  formatExecutor,
  parseCompatCommand,
  sbatchOptions,
  sshDestination,
} from "./executor.js";
import { type CommandHost, LocalHost, SshHost } from "./host.js";
import { formatCommand } from "./run.js";
import { finalState, queuedState, sbatch, scancel } from "./slurm.js";

/** Where a job runs and with what. */
export interface JobPlace {
  executor: Executor;
  /** The compat command on the build host or node, as words. */
  compat: string[];
  /** ssh: on the build host (relative: to the login's home); local and slurm: absolute, on this host (slurm: shared with the nodes). */
  workDir: string;
  sshConfig?: string;
}

/** Where a job runs, from its executor and what the caller or the site config says about it. */
export interface PlaceSettings {
  /** The compat command there, as written (default: `compat` over ssh, this compat otherwise). */
  compat?: string;
  /** Where `compat` was written, for its error: `--remote-compat`, `executors: compat`. */
  compatField?: string;
  workDir?: string;
  sshConfig?: string;
}

function selfCommand(): string[] {
  return [process.execPath, resolve(process.argv[1] ?? "compat")];
}

export function jobPlaceOf(executor: Executor, settings: PlaceSettings, stateDir: string): JobPlace {
  // ssh: the compat installed on the build host; local and slurm: this compat (a Slurm site's
  // nodes share the software tree it is installed in)
  const compat = settings.compat
    ? parseCompatCommand(settings.compat, settings.compatField ?? "compat")
    : executor.kind === "ssh"
      ? ["compat"]
      : selfCommand();
  const given = settings.workDir;
  const workDir =
    executor.kind === "ssh"
      ? (given ?? "compat-work")
      : resolve(given ?? (executor.kind === "slurm" ? resolve(stateDir, "slurm") : "compat-work"));
  if (/[\p{Cc}]/u.test(workDir) || workDir.startsWith("-"))
    throw new InputError(`work dir ${JSON.stringify(workDir)}: not a directory name`);
  return {
    executor,
    compat,
    workDir,
    ...(settings.sshConfig ? { sshConfig: resolve(settings.sshConfig) } : {}),
  };
}

export interface JobSpec {
  /** Short and safe (letters, digits, -): part of the job dir's and the Slurm job's name. */
  name: string;
  /** Files put in the job dir, by path relative to it. */
  files: Array<{ path: string; content: Buffer }>;
  /**
   * Shell lines run in the work dir after the version check. `$COMPAT` stands for the compat
   * command and `$JOB` for the job dir (relative to the work dir); outputs go to `$JOB/out/`.
   */
  body: string[];
}

export interface CollectedFile {
  name: string;
  path: string;
  sha256: string;
  /** False when a file of that name and those bytes was already there: it is not this job's to remove. */
  created: boolean;
}

export interface JobOutcome {
  /** `ssh builder@arm1`, `slurm job 42`, `this host`. */
  where: string;
  files: CollectedFile[];
  /** The job dir on the build host (kept when the job failed). */
  jobDir: string;
}

export class JobInterrupted extends CompatError {
  constructor(where: string) {
    super("tool", `the job (${where}) was stopped`);
    this.name = "JobInterrupted";
  }
}

const EXIT_NO_COMPAT = 98;
const EXIT_OTHER_VERSION = 99;
const SAFE_NAME_RE = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,200}$/;
const JOB_NAME_RE = /^[a-z0-9][a-z0-9-]{0,40}$/;

export function jobHost(place: JobPlace): CommandHost {
  const e = place.executor;
  if (e.kind !== "ssh") return new LocalHost();
  const { args, destination } = sshDestination(e);
  return new SshHost(destination, place.sshConfig, {}, args);
}

/** `ssh builder@arm1`, `slurm (partition=riscv)`, `this host`: for messages. */
export function describePlace(place: JobPlace): string {
  return place.executor.kind === "local" ? "this host" : formatExecutor(place.executor);
}

/** The script a job runs: every value is quoted for sh, none is interpreted. */
export function jobScript(place: JobPlace, job: string, body: string[]): string {
  const q = (s: string) => formatCommand(s, []);
  const compat = formatCommand(place.compat[0]!, place.compat.slice(1));
  return [
    "#!/bin/sh",
    `# compat job ${job} (generated by compat ${COMPAT_VERSION})`,
    "exec 2>&1",
    // on SIGTERM/SIGINT (scancel, a killed ssh session) the shell waits for compat, which stops its
    // own programs, instead of dying first and leaving them orphaned outside Slurm's process tracking
    `trap 'echo "compat-job: stopping"' INT TERM`,
    `cd ${q(place.workDir)} || exit ${EXIT_NO_COMPAT}`,
    `JOB=${q(`jobs/${job}`)}`,
    'echo $$ > "$JOB/job.pid"',
    `v=$(${compat} --version 2>/dev/null) || { echo ${q(`compat-job: cannot run ${place.compat.join(" ")} on`)} "$(hostname)"; exit ${EXIT_NO_COMPAT}; }`,
    `[ "$v" = ${q(COMPAT_VERSION)} ] || { echo "compat-job: compat $v on $(hostname)"; exit ${EXIT_OTHER_VERSION}; }`,
    ...body.map((line) => line.replaceAll("$COMPAT", compat)),
    "",
  ].join("\n");
}

/** Run a job on its executor to the end, streaming its output to onLine, and collect its outputs into `collectTo`. */
export async function runJob(
  place: JobPlace,
  spec: JobSpec,
  opts: {
    onLine: (line: string) => void;
    collectTo: string;
    signal?: AbortSignal;
    /** Throws when the reported outputs are not the ones asked for: then nothing is copied. */
    accept?: (outputs: Array<{ name: string; sha256: string }>, where: string) => void;
    /** What the job may hand back in all (default MAX_JOB_OUTPUT_BYTES). */
    maxOutputBytes?: number;
  },
): Promise<JobOutcome> {
  if (!JOB_NAME_RE.test(spec.name)) throw new InputError(`not a job name: ${JSON.stringify(spec.name)}`);
  const host = jobHost(place);
  const where = describePlace(place);
  if (opts.signal?.aborted) throw new JobInterrupted(where);
  // sbatch expands %j, %u … in --output: the log would be written elsewhere than it is read
  if (place.executor.kind === "slurm" && /[%\\]/.test(place.workDir))
    throw new InputError(
      `the Slurm work dir ${place.workDir} holds % or \\, which sbatch reads as a file name pattern`,
      {
        hint: "give a work dir without % or \\ (--work-dir, or workDir: in the arch's executor)",
      },
    );
  if (place.executor.kind !== "slurm") await checkRemoteVersion(host, place, where);
  const job = `${spec.name}-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}-${randomBytes(3).toString("hex")}`;
  const jobDir = `${place.workDir}/jobs/${job}`;
  if (opts.signal?.aborted) throw new JobInterrupted(where);
  await upload(host, place.workDir, jobDir, [
    ...spec.files,
    { path: "job.sh", content: Buffer.from(jobScript(place, job, spec.body)) },
  ]);
  let status: number;
  let ranAt = where;
  if (place.executor.kind === "slurm") {
    const r = await runSlurm(place, jobDir, spec.name, opts);
    status = r.status;
    ranAt = r.where;
  } else status = await runStreaming(host, jobDir, opts, where);
  if (status === EXIT_OTHER_VERSION || status === EXIT_NO_COMPAT) throw versionError(status, ranAt, place);
  if (status !== 0) {
    const hint = `its output is above; the job's files are kept in ${jobDir} on ${ranAt === "this host" ? "this host" : ranAt}`;
    const message = `compat failed on ${ranAt} with exit status ${status}`;
    if (status === 2) throw new InputError(message, { hint });
    if (status === 3) throw new ValidationError(message, { hint });
    throw new ToolError(message, { command: `${jobDir}/job.sh`, exitStatus: status }, { hint });
  }
  if (opts.signal?.aborted) throw new JobInterrupted(ranAt);
  const files = await collect(host, jobDir, opts.collectTo, ranAt, job, {
    accept: opts.accept,
    maxBytes: opts.maxOutputBytes ?? MAX_JOB_OUTPUT_BYTES,
  });
  await host.run(["rm", "-rf", "--", jobDir]).catch(() => undefined);
  return { where: ranAt, files, jobDir };
}

async function checkRemoteVersion(host: CommandHost, place: JobPlace, where: string): Promise<void> {
  let out: string;
  try {
    out = (await host.run([...place.compat, "--version"])).stdout.trim();
  } catch (e) {
    if (!(e instanceof ToolError)) throw e;
    if (host.remote && e.exitStatus === 255)
      throw new ToolError(
        `cannot reach the build host ${where}: ${lastLine(e.stderrTail)}`,
        { command: e.command, exitStatus: e.exitStatus, stderrTail: e.stderrTail },
        {
          hint: `check that it is up and that \`ssh -o BatchMode=yes ${host.remote} true\` works (key, known_hosts), then run again`,
        },
      );
    throw new ToolError(
      `cannot run ${place.compat.join(" ")} on ${where}: ${lastLine(e.stderrTail) || `exit status ${e.exitStatus}`}`,
      { command: e.command, exitStatus: e.exitStatus, stderrTail: e.stderrTail },
      {
        hint: "install compat there, or name its command (--remote-compat, or compat: in the arch's executor in compat.yaml)",
      },
    );
  }
  if (out !== COMPAT_VERSION)
    throw new ValidationError(
      `compat on ${where} is version ${JSON.stringify(out.slice(0, 40))}, this one is ${COMPAT_VERSION}: refusing to build there`,
      { hint: `install compat ${COMPAT_VERSION} on ${where} (or point --remote-compat at it) and run again` },
    );
}

function versionError(status: number, where: string, place: JobPlace): CompatError {
  return status === EXIT_OTHER_VERSION
    ? new ValidationError(
        `compat on ${where} is not version ${COMPAT_VERSION} (its output above says which): refusing to build there`,
        {
          hint: `install compat ${COMPAT_VERSION} where the job runs (or point compat: at it) and run again`,
        },
      )
    : new ToolError(
        `cannot run ${place.compat.join(" ")} on ${where}`,
        { command: place.compat.join(" "), exitStatus: status },
        { hint: "install compat there, or name its command (--remote-compat, or compat: in compat.yaml)" },
      );
}

function lastLine(s: string): string {
  return s.trim().split("\n").pop()?.trim() ?? "";
}

/**
 * Run where the job runs ($1 work dir, $2 job dir): the work dir and its jobs/ must be this user's own,
 * not links, and not writable by group or others (else another user of a shared filesystem could put
 * a job.sh, a spec or outputs of theirs in place of ours); the job dir is new and private (mode 700).
 */
export const PREPARE_JOB_DIR = [
  "w=$1; me=$(id -un)",
  'mkdir -p -- "$w" && { [ -e "$w/jobs" ] || [ -L "$w/jobs" ] || mkdir -m 700 -- "$w/jobs"; } || exit 4',
  'for d in "$w" "$w/jobs"; do',
  '  if [ -L "$d" ]; then echo "$d is a symbolic link: give the real directory" >&2; exit 3; fi',
  '  [ -d "$d" ] || { echo "$d is not a directory" >&2; exit 3; }',
  '  [ -O "$d" ] || { echo "$d is not owned by $me: chown $me $d (or use a work dir of your own)" >&2; exit 3; }',
  '  case $(stat -c %A -- "$d") in ?????w*|????????w*) echo "$d is writable by group or others: chmod go-w $d" >&2; exit 3;; esac',
  "done",
  'mkdir -m 700 -- "$2" && mkdir -m 700 -- "$2/out" || exit 4',
].join("\n");

async function upload(
  host: CommandHost,
  workDir: string,
  jobDir: string,
  files: Array<{ path: string; content: Buffer }>,
): Promise<void> {
  const made = await host.run(["sh", "-c", PREPARE_JOB_DIR, "sh", workDir, jobDir], [0, 3]);
  if (made.status === 3)
    throw new ValidationError(`refusing the work dir: ${lastLine(made.stderr)}`, {
      hint: "a work dir on a shared filesystem must be the submitting user's own, or another user could replace the job",
    });
  for (const f of files) {
    if (f.path.split("/").some((c) => !SAFE_NAME_RE.test(c) || c === "." || c === ".."))
      throw new InputError(`cannot send ${JSON.stringify(f.path)}: not a plain relative path`);
    const dest = `${jobDir}/${f.path}`;
    await host.run(["sh", "-c", 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"', "sh", dest], {
      input: f.content,
    });
  }
}

/**
 * Stops the job's process group, whose id the job wrote to job.pid ($1). `kill -s TERM -- -PGID` is
 * the POSIX form: dash (Debian's sh) rejects `kill -TERM -- …`. Anything but a plain number above 1
 * is refused: `kill -s TERM -- -1` would signal every process of the user.
 */
export const STOP_JOB = [
  // a stop right after the start: the job writes job.pid as its first command
  'i=0; while [ ! -s "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
  'p=$(cat -- "$1") || exit 2',
  'case $p in ""|*[!0-9]*|0*|1) echo "not a job process group: $p" >&2; exit 2;; esac',
  'kill -s TERM -- "-$p"',
].join("\n");

/** local and ssh: the script in its own session (so one kill stops all of it), stdout streamed. */
async function runStreaming(
  host: CommandHost,
  jobDir: string,
  opts: { onLine: (line: string) => void; signal?: AbortSignal },
  where: string,
): Promise<number> {
  const p = host.spawn(["setsid", "-w", "sh", `${jobDir}/job.sh`], { stdout: "pipe" });
  const lines = createInterface({ input: p.stdout });
  lines.on("line", opts.onLine);
  let stopped = false;
  const stop = () => {
    stopped = true;
    void host.run(["sh", "-c", STOP_JOB, "sh", `${jobDir}/job.pid`], [0, 1]).catch(() => p.kill());
  };
  // an abort before the listener exists does not call it
  if (opts.signal?.aborted) stop();
  else opts.signal?.addEventListener("abort", stop, { once: true });
  try {
    return await p.done;
  } catch (e) {
    if (stopped) throw new JobInterrupted(where);
    if (e instanceof ToolError && e.exitStatus === 255 && host.remote)
      throw new ToolError(
        `lost the connection to ${where}: ${lastLine(e.stderrTail)}`,
        { command: e.command, exitStatus: 255 },
        {
          hint: `the build may still run there (${jobDir}); check the host and run again`,
        },
      );
    if (e instanceof ToolError && e.exitStatus !== null) return e.exitStatus;
    throw e;
  } finally {
    opts.signal?.removeEventListener("abort", stop);
    lines.close();
  }
}

const POLL_MS = 500;

async function runSlurm(
  place: JobPlace,
  jobDir: string,
  name: string,
  opts: { onLine: (line: string) => void; signal?: AbortSignal },
): Promise<{ status: number; where: string }> {
  const e = place.executor as Extract<Executor, { kind: "slurm" }>;
  const log = `${jobDir}/job.log`;
  const id = await sbatch(
    [
      `--job-name=compat-${name}`,
      `--output=${log}`,
      `--chdir=${place.workDir}`,
      ...sbatchOptions(e),
      `${jobDir}/job.sh`,
    ],
    `the job for ${name} (${formatExecutor(e)})`,
  );
  const where = `slurm job ${id}`;
  opts.onLine(`compat-job: submitted ${where} (${formatExecutor(e)}), log ${log}`);
  const tail = new LogTail(log, opts.onLine);
  let cancelled = false;
  const cancel = () => {
    cancelled = true;
  };
  if (opts.signal?.aborted) cancel();
  else opts.signal?.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      await tail.read();
      if (cancelled) {
        // SIGTERM to every process of the job first, so compat stops its programs itself; then the job
        await scancel(id, "TERM");
        for (let i = 0; i < 120 && (await queuedState(id)) !== undefined; i++) await sleep(POLL_MS);
        await scancel(id);
        for (let i = 0; i < 60 && (await queuedState(id)) !== undefined; i++) await sleep(POLL_MS);
        await tail.read(true);
        throw new JobInterrupted(`${where}, cancelled with scancel`);
      }
      if ((await queuedState(id)) === undefined) break;
      await sleep(POLL_MS);
    }
    await tail.read(true);
    const end = await finalState(id);
    if (!end)
      throw new ToolError(
        `${where} left the queue but neither sacct nor scontrol knows how it ended`,
        { command: `scontrol show job ${id}`, exitStatus: null },
        { hint: `its log is ${log}; enable jobcomp/filetxt or slurmdbd, or raise MinJobAge` },
      );
    if (end.state === "TIMEOUT")
      throw new ToolError(
        `${where} was killed by Slurm at its time limit${e.time ? ` (time=${e.time})` : ""}`,
        { command: `sbatch ${jobDir}/job.sh`, exitStatus: null },
        {
          hint: `nothing was collected or published; give it more time (slurm:time=D-HH:MM:SS in --on or executors:) and run again; its log is ${log}`,
        },
      );
    if (end.state === "COMPLETED" || end.state === "FAILED") return { status: end.exitStatus, where };
    throw new ToolError(
      `${where} ended ${end.state}${end.signal ? ` (signal ${end.signal})` : ""}`,
      { command: `sbatch ${jobDir}/job.sh`, exitStatus: end.exitStatus },
      { hint: `nothing was collected; its log is ${log}; run again` },
    );
  } finally {
    opts.signal?.removeEventListener("abort", cancel);
  }
}

/** Follows a growing log file by lines (the node writes it on the shared filesystem). */
class LogTail {
  private offset = 0;
  private partial = "";
  constructor(
    private readonly file: string,
    private readonly onLine: (line: string) => void,
  ) {}

  async read(final = false): Promise<void> {
    if (!existsSync(this.file)) return;
    // the node writes it: never through a link, never blocking on a FIFO
    const fh = await open(this.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      if (!(await fh.stat()).isFile())
        throw new ValidationError(`${this.file} is not a plain file: the job's log is not followed`);
      for (;;) {
        const buf = Buffer.alloc(65536);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        const text = this.partial + buf.subarray(0, bytesRead).toString("utf8");
        const lines = text.split("\n");
        this.partial = lines.pop() ?? "";
        for (const l of lines) this.onLine(l);
        // a line without end is shown in pieces, not held without bound
        if (this.partial.length > MAX_LOG_LINE) {
          this.onLine(this.partial);
          this.partial = "";
        }
      }
    } finally {
      await fh.close();
    }
    if (final && this.partial) {
      this.onLine(this.partial);
      this.partial = "";
    }
  }
}

const MAX_LOG_LINE = 1 << 20;
const MAX_SUMS = 1 << 16;
/** What a build host may hand back in one job (a full layer artifact is a few GB): a host gone wrong must not fill this disk. */
export const MAX_JOB_OUTPUT_BYTES = 64 * 2 ** 30;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SHA256SUMS as the build host wrote it: `<64 hex>  <plain file name>` per line, nothing else. */
export function parseSums(text: string, where: string): Array<{ name: string; sha256: string }> {
  const out: Array<{ name: string; sha256: string }> = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m || !SAFE_NAME_RE.test(m[2]!) || m[2] === "." || m[2] === "..")
      throw new ValidationError(`${where} reported ${JSON.stringify(line.slice(0, 120))} in SHA256SUMS`, {
        hint: "expected `<sha256>  <file name>` lines naming plain files of the job's out/ directory; nothing was collected",
      });
    if (out.some((o) => o.name === m[2]))
      throw new ValidationError(`${where} reported ${m[2]} twice in SHA256SUMS`);
    out.push({ name: m[2]!, sha256: m[1]! });
  }
  if (out.length === 0) throw new ValidationError(`${where} reported no outputs: nothing to collect`);
  return out;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** `cat` of $1 if it is a plain file (not a link, FIFO or device), at most $2 bytes when given. */
const READ_PLAIN = [
  'if [ -L "$1" ] || [ ! -f "$1" ]; then echo "$1 is not a plain file" >&2; exit 3; fi',
  'if [ -n "$2" ]; then exec head -c "$2" -- "$1"; else exec cat -- "$1"; fi',
].join("\n");

/**
 * A small file of the job's, as text; undefined when it is over `max` bytes. The build host's `head -c`
 * caps it there, and this side stops reading past the cap too: a host gone hostile need not run head.
 */
async function readCapped(host: CommandHost, argv: string[], max: number): Promise<string | undefined> {
  const p = host.spawn([...argv, String(max + 1)], { stdout: "pipe" });
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  p.stdout.on("data", (c: Buffer) => {
    if (over) return;
    size += c.length;
    if (size > max) {
      over = true;
      p.stdout.destroy();
      p.kill("SIGKILL");
      return;
    }
    chunks.push(c);
  });
  try {
    await p.done;
  } catch (e) {
    if (!over) throw e;
  }
  return over ? undefined : Buffer.concat(chunks).toString("utf8");
}

/** Copy each reported output here, hashing it; rename into place only when all match. */
async function collect(
  host: CommandHost,
  jobDir: string,
  dest: string,
  where: string,
  job: string,
  limits: {
    accept?: (outputs: Array<{ name: string; sha256: string }>, where: string) => void;
    maxBytes: number;
  },
): Promise<CollectedFile[]> {
  const { accept, maxBytes } = limits;
  // what the job left is read only as plain files (no link, FIFO or device), SHA256SUMS capped
  const listed = await readCapped(host, ["sh", "-c", READ_PLAIN, "sh", `${jobDir}/SHA256SUMS`], MAX_SUMS);
  if (listed === undefined)
    throw new ValidationError(`${where} wrote a SHA256SUMS over ${MAX_SUMS} bytes: nothing was collected`);
  const sums = parseSums(listed, where);
  accept?.(sums, where);
  await mkdir(dest, { recursive: true });
  const parts: Array<CollectedFile & { part: string }> = [];
  let total = 0;
  try {
    for (const s of sums) {
      // the job's own name: jobs of one compat (--all-arches) collect into one dir at once
      const part = join(dest, `.${s.name}.part-${job}`);
      parts.push({ ...s, path: join(dest, s.name), part, created: true });
      const left = maxBytes - total;
      const p = host.spawn(["sh", "-c", READ_PLAIN, "sh", `${jobDir}/out/${s.name}`, String(left + 1)], {
        stdout: "pipe",
      });
      const hash = createHash("sha256");
      const out = createWriteStream(part, { flags: "wx" });
      const overCap = () =>
        new ValidationError(
          `${where} handed back over ${maxBytes} bytes of outputs (at ${s.name}): nothing was collected`,
          { hint: "a layer artifact is a few GB; look at what the job wrote on the build host" },
        );
      // the build host's `head -c` caps the copy, but a host gone hostile need not run it: the cap is
      // also kept here, so nothing beyond it reaches this disk
      let capped: ValidationError | undefined;
      const copied = new Promise<void>((resolve, reject) => {
        out.on("finish", resolve);
        out.on("error", reject);
        p.stdout.on("data", (c: Buffer) => {
          if (capped) return;
          total += c.length;
          if (total > maxBytes) {
            capped = overCap();
            p.stdout.unpipe(out);
            p.stdout.destroy();
            p.kill("SIGKILL");
            out.destroy();
            reject(capped);
            return;
          }
          hash.update(c);
        });
        p.stdout.pipe(out);
      });
      await Promise.all([copied, p.done.catch((e) => Promise.reject(capped ?? e))]);
      if (capped || total > maxBytes) throw capped ?? overCap();
      const got = hash.digest("hex");
      if (got !== s.sha256)
        throw new ValidationError(
          `${s.name} from ${where}: its sha256 here is ${got}, ${where} reported ${s.sha256}: nothing was collected`,
          { hint: "the copy was damaged or the file changed on the build host; run again" },
        );
    }
    // a build host names its outputs: one of them must not replace another file that is already here
    for (const p of parts) {
      if (!existsSync(p.path)) continue;
      p.created = false;
      if ((await sha256Of(p.path)) !== p.sha256)
        throw new ValidationError(
          `${p.name} from ${where} would replace a different file of that name in ${dest}: nothing was collected`,
          { hint: "move the existing file away (or give another -o DIR) and run again" },
        );
    }
    for (const p of parts) await rename(p.part, p.path);
  } catch (e) {
    for (const p of parts) await rm(p.part, { force: true });
    throw e;
  }
  return parts.map(({ name, path, sha256, created }) => ({ name, path, sha256, created }));
}
