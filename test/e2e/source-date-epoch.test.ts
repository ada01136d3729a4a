/**
 * A SOURCE_DATE_EPOCH that is not a time, from the environment, through the CLI: `compat build`
 * stops in its preflight with exit 2 naming the variable and leaves nothing (no run, no build
 * directory, no layer); `compat pack` refuses it before writing an artifact.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compatAsync, projectRoot } from "../helpers/cli.js";

const SPEC = join(projectRoot, "examples/dev.yaml");
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "compat-sde-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("SOURCE_DATE_EPOCH from the environment", () => {
  it.runIf(process.getuid?.() === 0)(
    "a build refuses a value that is not a time or lies in the future, naming it, and leaves nothing",
    async () => {
      for (const [value, message] of [
        ["yesterday", /SOURCE_DATE_EPOCH="yesterday": not a unix time in whole seconds/],
        ["-1", /SOURCE_DATE_EPOCH="-1": not a unix time in whole seconds/],
        ["99999999999", /SOURCE_DATE_EPOCH=99999999999 \(5138-11-16T09:46:39\.000Z\) is in the future/],
      ] as const) {
        const root = join(work, "root");
        const runs = join(work, "runs");
        const r = await compatAsync(["build", SPEC, "--root", root, "--runs-dir", runs], {
          cwd: work,
          env: { ...process.env, SOURCE_DATE_EPOCH: value },
        });
        expect(r.status, r.stderr).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).toMatch(/nothing was built/);
        expect(existsSync(runs) ? readdirSync(runs) : []).toEqual([]);
        expect(existsSync(root) ? readdirSync(root, { recursive: true }) : []).toEqual([]);
      }
    },
  );

  it("pack refuses it before writing an artifact", async () => {
    const prefix = join(work, "layer/2025.06/compat/linux/x86_64");
    mkdirSync(join(prefix, "etc"), { recursive: true });
    writeFileSync(join(prefix, "etc/hello"), "hi\n");
    const out = join(work, "out");
    const r = await compatAsync(["pack", prefix, "--stack", "dev", "-o", out], {
      env: { ...process.env, SOURCE_DATE_EPOCH: "1.7e9" },
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/SOURCE_DATE_EPOCH="1.7e9": not a unix time in whole seconds/);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });
});
