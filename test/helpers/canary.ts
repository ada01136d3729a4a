/**
 * Canaries for tests of hostile input (issue 10): a fresh working directory per test holding a
 * canary directory (a file, and a file in a subdirectory) that whatever the test runs must leave as
 * it was. Registers its own beforeEach/afterAll.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, expect } from "vitest";

export interface Canary {
  /** This test's working directory. */
  readonly work: string;
  /** The canary directory inside it. */
  readonly dir: string;
  /** Assert that the canary directory holds exactly what it was given. */
  survived(): void;
}

export function canaryPerTest(name: string): Canary {
  const scratch = mkdtempSync(join(tmpdir(), `compat-${name}-`));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const state = { work: "", dir: "" };
  beforeEach(() => {
    state.work = mkdtempSync(join(scratch, "case-"));
    state.dir = join(state.work, "victim");
    mkdirSync(join(state.dir, "sub"), { recursive: true });
    writeFileSync(join(state.dir, "canary"), "keep\n");
    writeFileSync(join(state.dir, "sub", "canary"), "keep too\n");
  });
  return {
    get work() {
      return state.work;
    },
    get dir() {
      return state.dir;
    },
    survived() {
      expect(readdirSync(state.dir, { recursive: true, encoding: "utf8" }).sort()).toEqual([
        "canary",
        "sub",
        "sub/canary",
      ]);
      expect(readFileSync(join(state.dir, "canary"), "utf8")).toBe("keep\n");
      expect(readFileSync(join(state.dir, "sub", "canary"), "utf8")).toBe("keep too\n");
    },
  };
}
