import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { resumeCommand, shellCommand } from "./build-hints.js";

/** The words a shell makes of `line` (what a person who pastes it runs). */
const words = (line: string): string[] =>
  JSON.parse(
    spawnSync(
      "sh",
      [
        "-c",
        `node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- ${line.replace(/^compat /, "")}`,
      ],
      {
        encoding: "utf8",
      },
    ).stdout,
  );

describe("build hints (F13)", () => {
  it("quote the state dir, runs dir, spec and root so a pasted hint runs what it says", () => {
    const o = {
      stateDir: "/tmp/a b;touch x",
      runsDir: "/tmp/r $(id)",
      root: "/p'q",
      arch: "x86_64",
      buildRoot: true,
    };
    const line = resumeCommand("my spec.yaml", o, "20260101_000000UTC");
    expect(words(line)).toEqual([
      "build",
      "my spec.yaml",
      "--arch",
      "x86_64",
      "--root",
      "/p'q",
      "--runs-dir",
      "/tmp/r $(id)",
      "--build-root",
      "--state-dir",
      "/tmp/a b;touch x",
      "--resume",
      "20260101_000000UTC",
    ]);
    expect(words(shellCommand("my spec.yaml", o))).toEqual([
      "shell",
      "my spec.yaml",
      "--arch",
      "x86_64",
      "--root",
      "/p'q",
    ]);
  });

  it("leaves out the default runs dir and plain words unquoted", () => {
    expect(resumeCommand("s.yaml", { runsDir: "runs", defaultRunsDir: "runs" }, "R1")).toBe(
      "compat build s.yaml --resume R1",
    );
  });
});
