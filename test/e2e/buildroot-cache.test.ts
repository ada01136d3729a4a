/**
 * `compat buildroot list|prune` on a cache tree the test makes (no mmdebstrap): what others may have
 * put on the disk (hostile entry names, planted directories among the use marks) is shown escaped or
 * ignored, never raw on the terminal and never an internal error.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compat } from "../helpers/cli.js";

const ID = "c".repeat(64);
let state: string;
beforeEach(() => {
  state = mkdtempSync(join(tmpdir(), "compat-brcache-e2e-"));
});
afterEach(() => rmSync(state, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/; // all but tab and newline

describe("compat buildroot list/prune on a planted cache", () => {
  it("shows an entry name with terminal escapes escaped (F10)", () => {
    expect(compat(["buildroot", "list", "--state-dir", state]).status).toBe(0); // makes the tree
    const hostile = "\u001b]0;PWN\u0007\u001b[2Jz";
    mkdirSync(join(state, "buildroots/x86_64", hostile));
    const list = compat(["buildroot", "list", "--state-dir", state]);
    expect(list.stderr).not.toMatch(/internal error/);
    expect(list.status).toBe(0);
    expect(list.stdout).toContain("damaged");
    expect(list.stdout + list.stderr).not.toMatch(CONTROL);
    expect(list.stdout).toContain("\\x1b]0;PWN");
    const prune = compat(["buildroot", "prune", "--dry-run", "--state-dir", state]);
    expect(prune.status).toBe(0);
    expect(prune.stdout).toContain("would remove x86_64 \\x1b]0;PWN");
    expect(prune.stdout + prune.stderr).not.toMatch(CONTROL);
  });

  it("ignores a directory or a stray file planted among an entry's use marks (F5)", () => {
    expect(compat(["buildroot", "list", "--state-dir", state]).status).toBe(0);
    mkdirSync(join(state, "buildroots/x86_64", ID, "root"), { recursive: true });
    mkdirSync(join(state, "buildroots/users", ID, "sub"), { recursive: true, mode: 0o700 });
    mkdirSync(join(state, "buildroots/users", ID, "7.json"), { mode: 0o700 });
    writeFileSync(join(state, "buildroots/users", ID, "x"), "planted");
    for (const args of [["list"], ["prune", "--dry-run"], ["prune"]]) {
      const r = compat(["buildroot", ...args, "--state-dir", state]);
      expect(r.stderr, args.join(" ")).not.toMatch(/internal error/);
      expect(r.status, args.join(" ")).toBe(0);
      expect(r.stdout, args.join(" ")).toContain(ID.slice(0, 12));
    }
  });
});
