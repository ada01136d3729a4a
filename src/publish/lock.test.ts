import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { acquireLock } from "./lock.js";

describe("repository lock", () => {
  it("is exclusive while its owner lives, and released after", () => {
    const path = join(mkdtempSync(join(tmpdir(), "lock-")), "lock");
    const lock = acquireLock(path, "first");
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ pid: process.pid, command: "first" });
    // A live owner (this process, seen from a second taker) refuses.
    expect(() => acquireLock(path, "second")).toThrow(/locked by first \(pid \d+/);
    lock.release();
    acquireLock(path, "third").release();
  });

  it("recovers a lock whose owner died", () => {
    const path = join(mkdtempSync(join(tmpdir(), "lock-")), "lock");
    const dead = spawnSync("true").pid!;
    writeFileSync(path, JSON.stringify({ pid: dead, host: hostname(), since: "then", command: "killed" }));
    const lock = acquireLock(path, "after");
    expect(JSON.parse(readFileSync(path, "utf8")).command).toBe("after");
    lock.release();
  });

  it("does not break a lock held on another host", () => {
    const path = join(mkdtempSync(join(tmpdir(), "lock-")), "lock");
    writeFileSync(path, JSON.stringify({ pid: 1, host: "elsewhere", since: "then", command: "remote" }));
    expect(() => acquireLock(path, "here")).toThrow(/on elsewhere/);
  });
});
