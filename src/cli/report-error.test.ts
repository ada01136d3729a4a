import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EXIT_CODES } from "../errors.js";
import { reportError } from "./main.js";

let stderr = "";
afterEach(() => {
  vi.restoreAllMocks();
  stderr = "";
});
function capture() {
  vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
}

const errno = (code: string, syscall: string, path: string) =>
  Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path, errno: -1 });

describe("reportError: what a user or a disk causes is never an internal error", () => {
  it.each([
    ["EROFS", /open \/srv\/repo\/x: the file system is read-only \(EROFS\)/],
    ["ENOSPC", /no space left on the device \(ENOSPC\)/],
    ["EACCES", /no permission to use \/srv\/repo\/x \(EACCES\)/],
    ["ENOENT", /\/srv\/repo\/x does not exist \(ENOENT\)/],
    ["EIO", /input\/output error/],
  ])("a system error %s: exit 4, the path, the reason and a hint", (code, message) => {
    capture();
    expect(reportError(errno(code, "open", "/srv/repo/x"))).toBe(EXIT_CODES.tool);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/hint: /);
    expect(stderr).not.toMatch(/internal error/);
  });

  it("a SQLite error of a damaged database: exit 4", () => {
    const dir = mkdtempSync(join(tmpdir(), "compat-report-"));
    try {
      writeFileSync(
        join(dir, "x.db"),
        "this is not a database, it is long enough to have a header".repeat(20),
      );
      let thrown: unknown;
      try {
        new Database(join(dir, "x.db")).pragma("journal_mode = WAL");
      } catch (e) {
        thrown = e;
      }
      capture();
      expect(reportError(thrown)).toBe(EXIT_CODES.tool);
      expect(stderr).toMatch(/SQLite database: file is not a database \(SQLITE_NOTADB\)/);
      expect(stderr).toMatch(/hint: the database file is damaged/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("anything else is still a bug: exit 70 with the stack", () => {
    capture();
    expect(reportError(new TypeError("x is undefined"))).toBe(EXIT_CODES.internal);
    expect(stderr).toMatch(/internal error: TypeError: x is undefined\n\s+at /);
  });
});

describe("reportError: text from a layer or a tool never reaches the terminal raw", () => {
  it("escape sequences in the message, details and hint are shown as \\xNN; tabs, newlines and non-ASCII stay", async () => {
    const { InputError } = await import("../errors.js");
    capture();
    const evil = "pkg\x1b]0;owned\x07name\x1b[2J\x9b31m";
    const code = reportError(
      new InputError(`unknown package ${evil} in café`, { details: [`line\t${evil}`], hint: `try ${evil}` }),
    );
    expect(code).toBe(EXIT_CODES.input);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters
    expect(stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(stderr).toContain("pkg\\x1b]0;owned\\x07name\\x1b[2J\\x9b31m");
    expect(stderr).toContain("café");
    expect(stderr).toContain("line\tpkg");
  });
});
