import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
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

describe("PidLock takeover (F6)", () => {
  const deadHolder = async (what: string) => {
    const child = spawn("true");
    await new Promise((r) => child.on("exit", r));
    return JSON.stringify({ pid: child.pid, start: "123", what, host: hostname() });
  };

  it("lets exactly one of two processes that both found the lock stale take it over", async () => {
    const file = join(dir, "lock");
    writeFileSync(file, await deadHolder("dead build"));
    // B reads the stale lock and judges it stale; A does the same and takes it over before B goes on
    let aHeld!: () => void;
    const held = new Promise<void>((r) => {
      aHeld = r;
    });
    let bJudged!: () => void;
    const judged = new Promise<void>((r) => {
      bJudged = r;
    });
    const b = PidLock.acquire(file, "build B", async () => {
      bJudged();
      await held;
    });
    await judged;
    const a = await PidLock.acquire(file, "build A");
    aHeld();
    await expect(b).rejects.toThrow(/build A is in progress/);
    expect(JSON.parse(readFileSync(file, "utf8")).what).toBe("build A");
    await a.release();
  });

  it("never takes over another host's lock, whatever its pid", async () => {
    const file = join(dir, "lock");
    writeFileSync(
      file,
      JSON.stringify({ pid: 999999, start: "1", what: "build on node7", host: "node7.example" }),
    );
    await expect(PidLock.acquire(file, "here")).rejects.toThrow(
      /build on node7 is in progress \(pid 999999 on node7\.example/,
    );
    expect(existsSync(file)).toBe(true);
  });

  it("shows a planted holder's text escaped and cut", async () => {
    const file = join(dir, "lock");
    writeFileSync(
      file,
      JSON.stringify({
        pid: process.pid,
        start: processStart(process.pid),
        what: `x\u001b]0;PWN\u0007\n${"y".repeat(500)}`,
      }),
    );
    const e = (await PidLock.acquire(file, "here").catch((x: unknown) => x)) as Error;
    expect(e.message).toContain("x\\x1b]0;PWN\\x07\\n");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for
    expect(e.message).not.toMatch(/[\u0000-\u001f]/);
    expect(e.message.length).toBeLessThan(400);
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
    // sh has forked both sleeps once three processes carry the run id (a loaded machine takes a while)
    let pids = processesOfRun(runId);
    for (let i = 0; i < 100 && pids.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      pids = processesOfRun(runId);
    }
    expect(pids).toContain(child.pid);
    expect(pids.length).toBe(3); // sh and its two sleeps
    expect(processesOfRun(`${runId}-other`)).toEqual([]);
    expect(await killLeftovers(runId)).toBe(3);
    expect(processesOfRun(runId).filter((p) => processStart(p) !== undefined)).toEqual([]);
  });
});
