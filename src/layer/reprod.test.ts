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

function record(sourceDateEpoch: number): BuildRecord {
  return {
    stack: "dev",
    repository: "software.example.org",
    version: "2025.06",
    os: "linux",
    flavor: "debian",
    arch: "x86_64",
    prefix: "/cvmfs/software.example.org/versions/2025.06/compat/linux/x86_64",
    specHash: "ab".repeat(32),
    suite: "bookworm",
    sourceDateEpoch,
    toolVersions: { mmdebstrap: "mmdebstrap 1.3.5" },
    compatVersion: "0.1.0",
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

  it("host facts name this machine (they go to the run directory, not into the layer)", async () => {
    const f = await hostFacts();
    expect(f.kernel).toMatch(/^\d+\.\d+/);
    expect(f.user.length).toBeGreaterThan(0);
  });

  it("writes packages.txt, build.json, the spec and extras under SOURCE_DATE_EPOCH's stamp; a rerun replaces it, byte for byte the same", async () => {
    const content = {
      record: record(Date.parse("2025-06-11T09:31:00Z") / 1000),
      packagesTxt: "bash:amd64 5.2.15-2+b7\n",
      specText: "repository: software.example.org\n",
      extra: { "bootstrap-prefix.sh": "#!/bin/bash\n" },
    };
    const first = await writeReprod(dir, content);
    expect(first).toBe(join(dir, "reprod", "20250611_093100UTC"));
    expect(readdirSync(first).sort()).toEqual([
      "bootstrap-prefix.sh",
      "build.json",
      "packages.txt",
      "spec.yaml",
    ]);
    const before = readFileSync(join(first, "build.json"), "utf8");
    const json = JSON.parse(before) as BuildRecord;
    expect(json).toMatchObject({ suite: "bookworm", sourceDateEpoch: 1749634260 });
    // nothing of the machine or the clock is in the layer's record
    for (const k of ["host", "user", "kernel", "start", "end", "runId"]) expect(json).not.toHaveProperty(k);

    await writeReprod(dir, content);
    expect(readdirSync(join(dir, "reprod"))).toEqual(["20250611_093100UTC"]);
    expect(readFileSync(join(first, "build.json"), "utf8")).toBe(before);
    // the record of another epoch (an earlier build the layer was updated from) stays
    await writeReprod(dir, { ...content, record: record(Date.parse("2025-07-01T00:00:00Z") / 1000) });
    expect(readdirSync(join(dir, "reprod")).sort()).toEqual(["20250611_093100UTC", "20250701_000000UTC"]);
  });
});
