import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
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

  it("never leaves an empty lock file: a taker killed half-way leaves only its draft, which the next taker removes", () => {
    const dir = mkdtempSync(join(tmpdir(), "lock-"));
    const path = join(dir, "lock");
    const dead = spawnSync("true").pid!;
    writeFileSync(`${path}.draft-${dead}`, "");
    const lock = acquireLock(path, "next");
    expect(existsSync(`${path}.draft-${dead}`)).toBe(false);
    expect(readdirSync(dir)).toEqual(["lock"]);
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("recovers an empty lock file (an older compat killed while it wrote it) once it is old, not while it is young", () => {
    const path = join(mkdtempSync(join(tmpdir(), "lock-")), "lock");
    writeFileSync(path, "");
    expect(() => acquireLock(path, "early")).toThrow(/locked by another process/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const lock = acquireLock(path, "late");
    expect(JSON.parse(readFileSync(path, "utf8")).command).toBe("late");
    lock.release();
  });
});
