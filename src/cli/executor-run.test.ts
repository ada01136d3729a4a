import { describe, expect, it } from "vitest";
import { remoteVerdict } from "./check-remote.js";
import { hostJsonLine, linePrinter, printable, progressLine } from "./executor-run.js";

describe("a build host's output as people see it", () => {
  it("neutralises terminal escapes and other control characters, keeps tabs", () => {
    expect(printable("ok\x1b]0;owned\x07 \x1b[2J\tdone\r")).toBe("ok?]0;owned? ?[2J\tdone?");
  });

  it("puts build events in words and passes anything else through", () => {
    expect(
      progressLine('{"event":"stage-end","stage":"bootstrap","index":2,"total":9,"durationMs":41000}'),
    ).toBe("  bootstrap (2/9) done in 41 s");
    expect(
      progressLine(
        '{"event":"stage-failed","stage":"install","index":3,"total":9,"error":"boom","logTail":["a","b"]}',
      ),
    ).toBe("  install (3/9) FAILED: boom\n    a\n    b");
    expect(progressLine("{not json")).toBe("{not json");
    expect(progressLine("plain line")).toBe("plain line");
  });
});

describe("a build host's lines are shown, never obeyed", () => {
  it("escapes decoded from a host's JSON reach the terminal neutralised", () => {
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => writes.push(s) > 0) as typeof process.stderr.write;
    try {
      linePrinter(undefined)(
        '{"event":"stage-note","message":"\\u001b]0;pwned\\u0007\\u001b[2Jfake: all checks passed"}',
      );
    } finally {
      process.stderr.write = orig;
    }
    expect(writes.join("")).toBe("    ?]0;pwned??[2Jfake: all checks passed\n");
  });

  it("with --json, a host's own `collected` (or anything not a build event) is wrapped", () => {
    const forged = '{"event":"collected","artifact":"evil.tar.zst","sha256":"00"}';
    expect(JSON.parse(hostJsonLine(forged))).toEqual({ event: "remote-output", line: forged });
    expect(JSON.parse(hostJsonLine("plain \x1b text"))).toEqual({
      event: "remote-output",
      line: "plain \x1b text",
    });
    expect(hostJsonLine('{"event":"stage-end", "stage":"x"}')).toBe('{"event":"stage-end","stage":"x"}');
  });
});

describe("check --on counts the host's results, not its summary", () => {
  const pass = { id: "a", status: "pass" };
  it("refuses a summary that disagrees with the results, or results that are not checks", () => {
    expect(() => remoteVerdict({ results: [], summary: { executed: 5, failed: 0 } }, "h")).toThrow(
      /says 5 executed, 0 failed; its results say 0 and 0/,
    );
    expect(() => remoteVerdict({ results: [{ id: "a", status: 1 }], summary: {} }, "h")).toThrow(
      /not a check/,
    );
    expect(() => remoteVerdict({ summary: { executed: 1, failed: 0 } }, "h")).toThrow(/no results/);
    expect(
      remoteVerdict(
        {
          results: [pass, { id: "b", status: "fail" }, { id: "c", status: "skip" }],
          summary: { executed: 2, failed: 1 },
        },
        "h",
      ),
    ).toEqual({ executed: 2, failed: 1 });
  });
});
