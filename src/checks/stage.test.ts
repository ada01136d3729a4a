import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir, writeLayout } from "../../test/helpers/prefix-layout.js";
import { ValidationError } from "../errors.js";
import { parseSpec } from "../spec/load.js";
import { resolveLayer } from "../spec/resolve.js";
import { REPORT_FILES } from "./report.js";
import { runCheckStage } from "./stage.js";

let cleanup = () => {};
afterEach(() => cleanup());

const SPEC = `
repository: software.example.org
stack: dev
version: "2025.06"
arches: [x86_64]
flavor: debian
debian: { suite: bookworm }
`;

describe("runCheckStage", () => {
  it("fails the build on a failed check and leaves the report in the run directory", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const prefixDir = join(t.dir, "prefix");
    const runDir = join(t.dir, "run");
    writeLayout(t.dir, {
      "prefix/usr/bin/su": { file: "x", mode: 0o4755 },
      "prefix/var/lib/dpkg/status": "",
      "run/.keep": "",
    });
    const layer = resolveLayer(parseSpec(SPEC, "dev.yaml").spec, "x86_64");
    const err = await runCheckStage({ layer, prefixDir, runDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).details.join("\n")).toContain(
      `setuid: 1 setuid/setgid file (${layer.prefix}/usr/bin/su)`,
    );
    expect((err as ValidationError).hint).toContain(REPORT_FILES.json);
    const report = JSON.parse(readFileSync(join(runDir, REPORT_FILES.json), "utf8"));
    expect(report.results.find((r: { id: string }) => r.id === "setuid").status).toBe("fail");
    expect(existsSync(join(runDir, REPORT_FILES.junit))).toBe(true);
  });
});
