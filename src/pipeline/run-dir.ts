/**
 * A build's run directory, `runs/<run-id>/`: what a person (or `--resume`) needs to follow and
 * continue a build.
 *
 *   plan.json         what the build does: spec, arch, paths, stages (written once)
 *   spec.yaml         the spec text used
 *   stages/<id>.log   each stage's own log (appended to on every attempt)
 *   stages/<id>.done  completion marker (JSON: start, end, duration)
 *   timings.json      the durations of the completed stages, in order
 *   events.jsonl      the progress events, one JSON object per line (as `--json` prints them)
 *   result.json       the outcome: success, failed (which stage, which log) or interrupted
 *   lock              the pid of the process running the build
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { appendFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { InputError } from "../errors.js";
import { safeName } from "../paths/rules.js";

export interface RunPlan {
  runId: string;
  specFile: string;
  specHash: string;
  arch: string;
  flavor: string;
  repository: string;
  /** EPREFIX as the layer sees it. */
  prefix: string;
  /** The local repository root (stands for /cvmfs/<repository>). */
  root: string;
  /** Where the finished layer goes: the prefix inside the local root. */
  target: string;
  /** Where it is built, beside the target on the same filesystem. */
  workDir: string;
  prefixDir: string;
  stages: Array<{ id: string; description: string }>;
  /** The layer plan of `compat plan` (files, links, packages). */
  layerPlan: unknown;
  createdAt: string;
  compatVersion: string;
}

export interface StageDone {
  stage: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
}

export type RunStatus = "success" | "failed" | "interrupted";

export interface RunResultRecord {
  runId: string;
  status: RunStatus;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Where the layer is (success). */
  layer?: string;
  /** Where the layer that was there before went (success, when there was one). */
  previousLayer?: string;
  /** Peak resident memory of the compat process itself (external tools aside), in MB. */
  peakRssMb?: number;
  /** The stage that failed or was interrupted, with its log. */
  stage?: string;
  log?: string;
  error?: { message: string; details: string[]; hint?: string };
}

/** `20250611-093012-x86_64-3fa2`: sortable, readable, unique even for builds started in the same second. */
export function newRunId(arch: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").replace(/\..*$/, "");
  return `${stamp}-${arch}-${randomBytes(2).toString("hex")}`;
}

export class RunDir {
  constructor(readonly dir: string) {}

  get id(): string {
    return basename(this.dir);
  }

  static async create(runsDir: string, runId: string): Promise<RunDir> {
    const dir = resolve(runsDir, runId);
    await mkdir(join(dir, "stages"), { recursive: true });
    return new RunDir(dir);
  }

  /** A run by id (under runsDir) or by path. */
  static open(runsDir: string, idOrPath: string): RunDir {
    const candidates = [resolve(idOrPath), resolve(runsDir, idOrPath)];
    const dir = candidates.find((c) => existsSync(join(c, "plan.json")));
    if (!dir)
      throw new InputError(`no build run ${idOrPath}: neither ${candidates.join(" nor ")} has a plan.json`, {
        hint: `runs are kept in ${resolve(runsDir)}; give a run id from there or the path of a run directory`,
      });
    return new RunDir(dir);
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** A stage's file: the id comes from plan.json on --resume, a file that may have been edited. */
  private stageFile(stage: string, ext: string): string {
    return this.path(
      "stages",
      `${safeName(stage, `${this.path("plan.json")}: stage id`, "a stage id such as relocate")}.${ext}`,
    );
  }

  stageLog(stage: string): string {
    return this.stageFile(stage, "log");
  }

  async writePlan(plan: RunPlan, specText: string): Promise<void> {
    await writeJsonAtomic(this.path("plan.json"), plan);
    await writeFile(this.path("spec.yaml"), specText);
  }

  readPlan(): RunPlan {
    return JSON.parse(readFileSync(this.path("plan.json"), "utf8")) as RunPlan;
  }

  readSpecText(): string {
    return readFileSync(this.path("spec.yaml"), "utf8");
  }

  isDone(stage: string): boolean {
    return existsSync(this.stageFile(stage, "done"));
  }

  async markDone(done: StageDone): Promise<void> {
    await writeJsonAtomic(this.stageFile(done.stage, "done"), done);
    const timings = await this.timings();
    await writeJsonAtomic(this.path("timings.json"), [
      ...timings.filter((t) => t.stage !== done.stage),
      done,
    ]);
  }

  async timings(): Promise<StageDone[]> {
    try {
      return JSON.parse(await readFile(this.path("timings.json"), "utf8")) as StageDone[];
    } catch {
      return [];
    }
  }

  async appendEvent(event: object): Promise<void> {
    await appendFile(this.path("events.jsonl"), `${JSON.stringify(event)}\n`);
  }

  async writeResult(result: RunResultRecord): Promise<void> {
    await writeJsonAtomic(this.path("result.json"), result);
  }

  readResult(): RunResultRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.path("result.json"), "utf8")) as RunResultRecord;
    } catch {
      return undefined;
    }
  }

  async clearResult(): Promise<void> {
    await rm(this.path("result.json"), { force: true });
  }
}

/** Write JSON by rename, so a crash leaves the old file or the new one, never half of one. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}
