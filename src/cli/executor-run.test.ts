import { describe, expect, it } from "vitest";
import { printable, progressLine } from "./executor-run.js";

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
