/** A run directory's stage files: the stage ids of a --resume come from plan.json, a file on disk. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UnsafePathError } from "../paths/rules.js";
import { RunDir } from "./run-dir.js";

let runs = "";
afterEach(() => rmSync(runs, { recursive: true, force: true }));

describe("RunDir stage files", () => {
  it("are named by the stage id under stages/", async () => {
    runs = mkdtempSync(join(tmpdir(), "compat-runs-"));
    const run = await RunDir.create(runs, "r1");
    expect(run.stageLog("relocate")).toBe(join(runs, "r1/stages/relocate.log"));
    expect(run.isDone("relocate")).toBe(false);
  });

  it("refuse a stage id that would lead out of stages/ (an edited plan.json)", async () => {
    runs = mkdtempSync(join(tmpdir(), "compat-runs-"));
    const run = await RunDir.create(runs, "r1");
    for (const id of ["../../../../tmp/x", "a/b", "..", ""]) {
      expect(() => run.isDone(id)).toThrow(UnsafePathError);
      expect(() => run.stageLog(id)).toThrow(/plan\.json: stage id/);
    }
  });
});
