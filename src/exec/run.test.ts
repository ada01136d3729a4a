import { describe, expect, it } from "vitest";
import { ToolError } from "../errors.js";
import { formatCommand, requireTool, run } from "./run.js";

describe("run", () => {
  it("captures stdout and passes stdin", async () => {
    const r = await run("tr", ["a-z", "A-Z"], { input: "compat\n" });
    expect(r.stdout).toBe("COMPAT\n");
    expect(r.status).toBe(0);
  });

  it("turns a non-zero exit into a ToolError with the stderr tail", async () => {
    const err = await run("sh", ["-c", "echo boom >&2; exit 3"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).exitStatus).toBe(3);
    expect((err as ToolError).stderrTail).toContain("boom");
    expect((err as ToolError).exitCode).toBe(4);
  });

  it("accepts listed exit statuses", async () => {
    const r = await run("sh", ["-c", "exit 17"], { okStatuses: [0, 17] });
    expect(r.status).toBe(17);
  });

  it("names the Debian package of a missing tool", async () => {
    const err = (await run("patchelf-does-not-exist", []).catch((e: unknown) => e)) as ToolError;
    expect(err).toBeInstanceOf(ToolError);
    expect(err.message).toContain("command not found");
    await expect(requireTool("definitely-not-a-tool-xyz")).rejects.toThrow(/not found/);
  });

  it("kills the process group on timeout", async () => {
    const started = Date.now();
    const err = await run("sh", ["-c", "sleep 30 & sleep 30"], { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("quotes commands for logs", () => {
    expect(formatCommand("echo", ["a b", "it's", "plain"])).toBe(`echo 'a b' 'it'\\''s' plain`);
  });
});
