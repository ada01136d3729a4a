import { type createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CompatError, InputError } from "../errors.js";
import { run } from "../exec/run.js";
import type { BuildStage, StageContext } from "../flavors/types.js";
import type { BuildEventInput } from "./progress.js";
import { newRunId, RunDir } from "./run-dir.js";
import { BuildInterrupted, runStages, tailLines } from "./runner.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "compat-runner-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A context whose run() writes to the stage log: enough for stages that run shell commands. */
function context(signal: AbortSignal) {
  return (_stage: BuildStage, log: ReturnType<typeof createWriteStream>) =>
    ({
      log,
      signal,
      run: (cmd: string, args: readonly string[]) => run(cmd, args, { logTo: log, signal }),
      note: (m: string) => log.write(`--- ${m}\n`),
    }) as unknown as StageContext;
}

const shellStage = (id: string, script: string): BuildStage => ({
  id,
  description: `runs ${script}`,
  run: async (ctx) => {
    await ctx.run("sh", ["-c", script]);
  },
});

describe("runStages", () => {
  it("runs the stages in order, each with its log, marker and timing", async () => {
    const runDir = await RunDir.create(dir, newRunId("x86_64"));
    const out = join(dir, "order");
    const events: BuildEventInput[] = [];
    await runStages({
      run: runDir,
      stages: [
        shellStage("one", `echo one >> ${out}; echo said one`),
        shellStage("two", `echo two >> ${out}`),
      ],
      context: context(new AbortController().signal),
      emit: (e) => events.push(e),
      signal: new AbortController().signal,
      resumeCommand: "compat build x --resume R",
    });
    expect(readFileSync(out, "utf8")).toBe("one\ntwo\n");
    expect(runDir.isDone("one") && runDir.isDone("two")).toBe(true);
    expect(readFileSync(runDir.stageLog("one"), "utf8")).toMatch(
      /=== one: runs .*\nsaid one\n=== done in \d+ ms/s,
    );
    expect((await runDir.timings()).map((t) => t.stage)).toEqual(["one", "two"]);
    expect(events.map((e) => `${e.event}:${"stage" in e ? e.stage : ""}`)).toEqual([
      "stage-start:one",
      "stage-end:one",
      "stage-start:two",
      "stage-end:two",
    ]);
  });

  it("names the failed stage, shows its log's tail and where the log is; a rerun continues there", async () => {
    const runDir = await RunDir.create(dir, newRunId("x86_64"));
    const count = join(dir, "count");
    const flag = join(dir, "fixed");
    const stages = [
      shellStage("fetch", `echo x >> ${count}`),
      shellStage(
        "compile",
        `for i in $(seq 1 40); do echo line $i; done; [ -e ${flag} ] || { echo "cc: fatal error" >&2; exit 3; }`,
      ),
      shellStage("record", "true"),
    ];
    const opts = {
      run: runDir,
      stages,
      context: context(new AbortController().signal),
      emit: () => {},
      signal: new AbortController().signal,
      resumeCommand: "compat build spec.yaml --resume R",
    };
    const err = (await runStages(opts).catch((e: unknown) => e)) as CompatError;
    expect(err).toBeInstanceOf(CompatError);
    expect(err.exitCode).toBe(4);
    expect(err.message).toMatch(/^build failed in stage compile: sh failed with exit status 3/);
    expect(err.details).toContain("cc: fatal error");
    expect(err.details).toContain("line 40");
    expect(err.details).not.toContain("line 5");
    expect(err.details.at(-1)).toBe(`--- full log: ${runDir.stageLog("compile")}`);
    expect(err.hint).toContain("compat build spec.yaml --resume R");
    expect(runDir.isDone("fetch")).toBe(true);
    expect(runDir.isDone("compile")).toBe(false);

    await import("node:fs/promises").then((fs) => fs.writeFile(flag, ""));
    await runStages(opts);
    expect(readFileSync(count, "utf8")).toBe("x\n"); // fetch did not run again
    expect(runDir.isDone("record")).toBe(true);
    // the log keeps both attempts
    expect(readFileSync(runDir.stageLog("compile"), "utf8").match(/=== started/g)).toHaveLength(2);
  });

  it("keeps the kind of the stage's error (bad input stays exit 2)", async () => {
    const runDir = await RunDir.create(dir, newRunId("x86_64"));
    const err = (await runStages({
      run: runDir,
      stages: [
        {
          id: "bootstrap",
          description: "d",
          run: async () => {
            throw new InputError("debian.packages: Debian bookworm has no package nosuchpkg", {
              hint: "check the name",
            });
          },
        },
      ],
      context: context(new AbortController().signal),
      emit: () => {},
      signal: new AbortController().signal,
      resumeCommand: "r",
    }).catch((e: unknown) => e)) as CompatError;
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("nosuchpkg");
    expect(err.details).toContain("hint: check the name");
    expect(err.hint).toMatch(/fix the spec and start a new build/);
  });

  it("names a full disk in the headline, with the file system, from the log or from compat's own ENOSPC", async () => {
    const fromTool = (await runStages({
      run: await RunDir.create(dir, newRunId("x86_64")),
      stages: [
        shellStage(
          "bootstrap",
          "echo 'tar: ./usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0: Cannot write: No space left on device' >&2; echo 'E: unshare failed' >&2; exit 25",
        ),
      ],
      context: context(new AbortController().signal),
      emit: () => {},
      signal: new AbortController().signal,
      resumeCommand: "compat build x --resume R",
      writesTo: [dir],
    }).catch((e: unknown) => e)) as CompatError;
    expect(fromTool.exitCode).toBe(4);
    expect(fromTool.message).toMatch(
      /^build failed in stage bootstrap: no space left on device \(ENOSPC\) on \/\S* \(\w+.*\): [\d.]+ \w+ free of [\d.]+ \w+: sh failed with exit status 25/,
    );
    expect(fromTool.hint).toMatch(
      /free some space there .* continue from this stage with: compat build x --resume R/,
    );

    const fromNode = (await runStages({
      run: await RunDir.create(dir, newRunId("x86_64")),
      stages: [
        {
          id: "relocate",
          description: "d",
          run: async () => {
            throw Object.assign(new Error("ENOSPC: no space left on device, write"), {
              code: "ENOSPC",
              syscall: "write",
              path: join(dir, "prefix/usr/bin/python3"),
            });
          },
        },
      ],
      context: context(new AbortController().signal),
      emit: () => {},
      signal: new AbortController().signal,
      resumeCommand: "r",
      writesTo: [dir],
    }).catch((e: unknown) => e)) as CompatError;
    // a system error is I/O (exit 4), never an internal error (70)
    expect(fromNode.exitCode).toBe(4);
    expect(fromNode.message).toMatch(
      /^build failed in stage relocate: no space left on device \(ENOSPC\) on \//,
    );
    expect(fromNode.message).toMatch(/write .*python3: no space left on the device \(ENOSPC\)$/);
  });

  it("stops on a signal with BuildInterrupted and no marker", async () => {
    const runDir = await RunDir.create(dir, newRunId("x86_64"));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const err = await runStages({
      run: runDir,
      stages: [shellStage("long", "sleep 30")],
      context: context(controller.signal),
      emit: () => {},
      signal: controller.signal,
      resumeCommand: "r",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildInterrupted);
    expect((err as BuildInterrupted).stage).toBe("long");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(runDir.isDone("long")).toBe(false);
    expect(readFileSync(runDir.stageLog("long"), "utf8")).toContain("=== interrupted");
  });
});

describe("RunDir", () => {
  it("finds a run by id or by path and refuses an unknown one", async () => {
    const id = newRunId("aarch64", new Date("2025-06-11T09:30:12Z"));
    expect(id).toMatch(/^20250611-093012-aarch64-[0-9a-f]{4}$/);
    const runDir = await RunDir.create(dir, id);
    await runDir.writePlan({ runId: id } as never, "spec: text\n");
    expect(RunDir.open(dir, id).dir).toBe(runDir.dir);
    expect(RunDir.open("/nonexistent", runDir.dir).dir).toBe(runDir.dir);
    expect(() => RunDir.open(dir, "nope")).toThrow(/no build run nope/);
    expect(existsSync(runDir.path("spec.yaml"))).toBe(true);
  });

  it("reads the tail of a log", async () => {
    const f = join(dir, "log");
    await import("node:fs/promises").then((fs) => fs.writeFile(f, "a\nb\nc\nd\n"));
    expect(await tailLines(f, 2)).toEqual(["c", "d"]);
  });
});
