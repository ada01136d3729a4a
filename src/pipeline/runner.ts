/**
 * Runs a build's stages in order over a run directory: skips the ones with a completion marker,
 * gives each its own log, writes the marker and timing when it passes, and turns a failure into
 * an error that names the stage, shows the tail of its log and says where the full log is.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { appendFile, open } from "node:fs/promises";
import { CompatError, isCompatError, isSystemError, systemError } from "../errors.js";
import type { BuildStage, StageContext } from "../flavors/types.js";
import { diskFullHeadline } from "./disk-full.js";
import type { BuildEventInput } from "./progress.js";
import type { RunDir } from "./run-dir.js";

/** Raised when the build was stopped by a signal (SIGINT, SIGTERM); the run can be resumed. */
export class BuildInterrupted extends Error {
  constructor(
    readonly stage: string,
    readonly runId: string,
  ) {
    super(`build interrupted during stage ${stage}`);
    this.name = "BuildInterrupted";
  }
}

export interface RunStagesOptions {
  run: RunDir;
  stages: readonly BuildStage[];
  /** Makes the context one stage run uses, around its log. */
  context: (stage: BuildStage, log: WriteStream) => StageContext;
  emit: (e: BuildEventInput) => void;
  signal: AbortSignal;
  /** The command that continues this run, for the failure hint. */
  resumeCommand: string;
  /** Where the stages write (work dir, run dir): a failure for lack of space names their file systems. */
  writesTo?: readonly string[];
}

export const LOG_TAIL_LINES = 25;

export async function runStages(o: RunStagesOptions): Promise<void> {
  const total = o.stages.length;
  for (const [i, stage] of o.stages.entries()) {
    const index = i + 1;
    if (o.run.isDone(stage.id)) {
      o.emit({ event: "stage-skip", stage: stage.id, index, total, reason: "done in an earlier attempt" });
      continue;
    }
    if (o.signal.aborted) throw new BuildInterrupted(stage.id, o.run.id);
    const logFile = o.run.stageLog(stage.id);
    const log = createWriteStream(logFile, { flags: "a" });
    const started = new Date();
    log.write(
      `=== ${stage.id}: ${stage.description}\n=== started ${started.toISOString()} (run ${o.run.id})\n`,
    );
    o.emit({ event: "stage-start", stage: stage.id, index, total, description: stage.description });
    try {
      await stage.run(o.context(stage, log));
    } catch (e) {
      const durationMs = Date.now() - started.getTime();
      const interrupted = o.signal.aborted;
      await closeStream(log);
      // the tail is the stage's own output; the error itself is shown beside it
      const logTail = await tailLines(logFile, LOG_TAIL_LINES);
      await appendFile(
        logFile,
        `=== ${interrupted ? "interrupted" : "failed"} after ${durationMs} ms: ${errorText(e)}\n`,
      );
      if (interrupted) throw new BuildInterrupted(stage.id, o.run.id);
      o.emit({
        event: "stage-failed",
        stage: stage.id,
        index,
        total,
        durationMs,
        error: e instanceof Error ? e.message : String(e),
        log: logFile,
        logTail,
      });
      throw stageFailure(stage, e, logFile, logTail, o.resumeCommand, o.writesTo ?? []);
    }
    const ended = new Date();
    const durationMs = ended.getTime() - started.getTime();
    log.write(`=== done in ${durationMs} ms\n`);
    await closeStream(log);
    await o.run.markDone({
      stage: stage.id,
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      durationMs,
    });
    o.emit({ event: "stage-end", stage: stage.id, index, total, durationMs });
  }
}

/**
 * The error a failed stage ends the build with: same kind (exit code) as the cause; a system
 * error (a full or read-only disk) is an I/O error (exit 4), not an internal one; a stage that
 * failed because a file system the build writes (`writesTo`) filled up says so first.
 */
export function stageFailure(
  stage: BuildStage,
  cause: unknown,
  logFile: string,
  logTail: readonly string[],
  resumeCommand: string,
  writesTo: readonly string[] = [],
): CompatError {
  const known = isCompatError(cause) ? cause : isSystemError(cause) ? systemError(cause) : undefined;
  const kind = known?.kind ?? "internal";
  const message = known?.message ?? (cause instanceof Error ? cause.message : String(cause));
  const full = diskFullHeadline(cause, logTail, writesTo);
  const details = [
    ...(known ? known.details : []),
    ...(known?.hint ? [`hint: ${known.hint}`] : []),
    `--- last ${logTail.length} lines of the ${stage.id} log ---`,
    ...logTail,
    `--- full log: ${logFile}`,
  ];
  // A resumed run keeps the spec it started with: a spec error needs a new build.
  const hint = full
    ? `free some space there (or build on another file system with --root), then continue from this stage with: ${resumeCommand}`
    : kind === "input"
      ? "fix the spec and start a new build (a resumed run keeps the spec it started with)"
      : `fix the cause, then continue from this stage with: ${resumeCommand}`;
  return new CompatError(
    full && kind === "internal" ? "tool" : kind,
    `build failed in stage ${stage.id}: ${full ? `${full}: ` : ""}${message}`,
    { details, hint, cause },
  );
}

function errorText(e: unknown): string {
  if (isCompatError(e)) return [e.message, ...e.details, ...(e.hint ? [`hint: ${e.hint}`] : [])].join("\n");
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

function closeStream(s: WriteStream): Promise<void> {
  return new Promise((resolve) => s.end(resolve));
}

/** The last n lines of a file, reading at most its last 64 KiB. */
export async function tailLines(file: string, n: number): Promise<string[]> {
  const fh = await open(file, "r");
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    return buf.toString("utf8").trimEnd().split("\n").slice(-n);
  } finally {
    await fh.close();
  }
}
