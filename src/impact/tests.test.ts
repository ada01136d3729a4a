import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { loadTestSuite } from "./tests.js";

const dir = mkdtempSync(join(tmpdir(), "impact-tests-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function problems(name: string, text: string | Buffer): Promise<string[]> {
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    await loadTestSuite(file);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return [(e as InputError).message, ...(e as InputError).details];
  }
  throw new Error("accepted");
}

describe("a hostile tests file", () => {
  it("refuses NUL bytes in commands and values, control characters in names, each with its line", async () => {
    const got = await problems(
      "nul.yaml",
      [
        "tests:",
        '  - name: "a\\u0007bell"',
        "    command: echo",
        '  - name: "nul"',
        '    command: "echo \\0 done"',
        '    env: { X: "a\\0b" }',
        "reframe:",
        '  command: "reframe\\0 -r"',
      ].join("\n"),
    );
    expect(got[0]).toContain("invalid tests file (4 problems)");
    expect(got).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/nul\.yaml:2:11 tests\[0\]\.name: .*: one line of printable text$/),
        expect.stringMatching(/nul\.yaml:5:14 tests\[1\]\.command: .*: a command cannot hold a NUL byte$/),
        expect.stringMatching(/nul\.yaml:6:15 tests\[1\]\.env\.X: .*: a value cannot hold a NUL byte$/),
        expect.stringMatching(/nul\.yaml:8:12 reframe\.command: .*: a command cannot hold a NUL byte$/),
      ]),
    );
  });

  it("refuses a billion-laughs document, not expanding it", async () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      lines.push(
        `${cur}: &${cur} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`,
      );
    }
    lines.push("tests: [{ name: x, command: *l }]");
    const got = await problems("laughs.yaml", lines.join("\n"));
    expect(got.join("\n")).toMatch(/alias/i);
  });

  it("a FIFO, a directory or a huge file is refused at once, not read", async () => {
    const fifo = join(dir, "fifo.yaml");
    execFileSync("mkfifo", [fifo]);
    await expect(loadTestSuite(fifo)).rejects.toThrow(/fifo\.yaml: not a regular file/);
    mkdirSync(join(dir, "dir.yaml"));
    await expect(loadTestSuite(join(dir, "dir.yaml"))).rejects.toThrow(/not a regular file|EISDIR/);
    const huge = join(dir, "huge.yaml");
    writeFileSync(huge, "");
    execFileSync("truncate", ["-s", String(64 << 20), huge]);
    await expect(loadTestSuite(huge)).rejects.toThrow(/more than the \d+ such a file may have/);
  });
});
