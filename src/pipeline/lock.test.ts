import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { killLeftovers, PidLock, processesOfRun, processStart, RUN_ID_ENV } from "./lock.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "compat-lock-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("PidLock", () => {
  it("is held until released, and names its holder", async () => {
    const file = join(dir, "lock");
    const lock = await PidLock.acquire(file, "build run R1");
    await expect(PidLock.acquire(file, "build run R2")).rejects.toThrow(
      new RegExp(`build run R1 is in progress \\(pid ${process.pid}`),
    );
    await lock.release();
    expect(existsSync(file)).toBe(false);
    await (await PidLock.acquire(file, "build run R2")).release();
  });

  it("takes over a lock whose holder is gone (killed build) or half-written", async () => {
    const file = join(dir, "lock");
    const child = spawn("true");
    await new Promise((r) => child.on("exit", r));
    writeFileSync(file, JSON.stringify({ pid: child.pid, start: "123", what: "dead build" }));
    await (await PidLock.acquire(file, "new build")).release();
    // same pid as a live process but another start time: the pid was reused
    writeFileSync(file, JSON.stringify({ pid: process.pid, start: "1", what: "old build" }));
    await (await PidLock.acquire(file, "new build")).release();
    writeFileSync(file, '{"pid": 12');
    await (await PidLock.acquire(file, "new build")).release();
  });
});

describe("leftovers of a killed build", () => {
  it("finds the programs carrying the run id, also in their own process group, and kills them", async () => {
    const runId = `test-${process.pid}-${Date.now()}`;
    const child = spawn("sh", ["-c", "sleep 60 & sleep 60"], {
      env: { ...process.env, [RUN_ID_ENV]: runId },
      detached: true,
      stdio: "ignore",
    });
    child.unref();
    await new Promise((r) => setTimeout(r, 200));
    const pids = processesOfRun(runId);
    expect(pids).toContain(child.pid);
    expect(pids.length).toBe(3); // sh and its two sleeps
    expect(processesOfRun(`${runId}-other`)).toEqual([]);
    expect(await killLeftovers(runId)).toBe(3);
    expect(processesOfRun(runId).filter((p) => processStart(p) !== undefined)).toEqual([]);
  });
});
