import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type BuildRecord, hostFacts, hostOs, reprodStamp, writeReprod } from "./reprod.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "compat-reprod-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const testdata = join(import.meta.dirname, "testdata");

async function record(runId: string): Promise<BuildRecord> {
  return {
    runId,
    stack: "dev",
    repository: "software.example.org",
    version: "2025.06",
    os: "linux",
    ...(await hostFacts()),
    flavor: "debian",
    arch: "x86_64",
    prefix: "/cvmfs/software.example.org/versions/2025.06/compat/linux/x86_64",
    specHash: "ab".repeat(32),
    suite: "bookworm",
    toolVersions: { mmdebstrap: "mmdebstrap 1.3.5" },
    compatVersion: "0.1.0",
    start: "2025-06-11T09:30:00.000Z",
    end: "2025-06-11T09:31:00.000Z",
  };
}

describe("reprod record", () => {
  it("names its directory as EESSI does", () => {
    expect(reprodStamp(new Date("2025-06-11T09:30:12.345Z"))).toBe("20250611_093012UTC");
  });

  it("reads the host OS from os-release, and says unknown when it cannot", async () => {
    expect(await hostOs(join(testdata, "os-release"))).toBe("Debian GNU/Linux 12 (bookworm)");
    expect(await hostOs(join(testdata, "os-release-broken"))).toBe("unknown");
    expect(await hostOs(join(testdata, "missing"))).toBe("unknown");
  });

  it("writes packages.txt, build.json, the spec and extras; a rerun of the same build replaces its record", async () => {
    const content = {
      record: await record("R1"),
      packagesTxt: "bash:amd64 5.2.15-2+b7\n",
      specText: "repository: software.example.org\n",
      extra: { "bootstrap-prefix.sh": "#!/bin/bash\n" },
    };
    const first = await writeReprod(dir, content, new Date("2025-06-11T09:31:00Z"));
    expect(first).toBe(join(dir, "reprod", "20250611_093100UTC"));
    expect(readdirSync(first).sort()).toEqual([
      "bootstrap-prefix.sh",
      "build.json",
      "packages.txt",
      "spec.yaml",
    ]);
    const json = JSON.parse(readFileSync(join(first, "build.json"), "utf8")) as BuildRecord;
    expect(json.suite).toBe("bookworm");
    expect(json.kernel).toMatch(/^\d+\.\d+/);
    expect(json.user.length).toBeGreaterThan(0);

    await writeReprod(dir, content, new Date("2025-06-11T09:32:00Z"));
    expect(readdirSync(join(dir, "reprod"))).toEqual(["20250611_093200UTC"]);
    // another build's record stays
    await writeReprod(dir, { ...content, record: await record("R2") }, new Date("2025-07-01T00:00:00Z"));
    expect(readdirSync(join(dir, "reprod")).sort()).toEqual(["20250611_093200UTC", "20250701_000000UTC"]);
  });
});
