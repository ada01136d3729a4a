import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compat } from "../helpers/cli.js";
import { writeScenarioPrefix, writeVdbEntry } from "../helpers/glsa-fixtures.js";
import { GLSA_DIR } from "../helpers/shared-data.js";

const root = mkdtempSync(join(tmpdir(), "compat-e2e-audit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const { prefix, glsaDir, affected } = writeScenarioPrefix(join(root, "scenarios"));
const cache = join(root, "cache");

describe("compat audit", () => {
  it("prints findings as JSON in the documented schema and exits 1", () => {
    const r = compat(["audit", prefix, "--glsa", glsaDir, "--json", "--cache-dir", cache]);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(Object.keys(report)).toEqual(["findings", "summary"]);
    expect(new Set(report.findings.map((f: { installed: string }) => f.installed))).toEqual(affected);
    for (const f of report.findings)
      expect(Object.keys(f).sort()).toEqual(
        [
          "cves",
          "fix",
          "id",
          "installed",
          "package",
          "severity",
          "slot",
          "source",
          "title",
          "unaffected",
          "url",
          "vulnerable",
        ].sort(),
      );
    expect(
      report.findings.find((f: { installed: string }) => f.installed === "x11-libs/gtk+-3.24.43"),
    ).toMatchObject({
      slot: "3",
      vulnerable: ["<x11-libs/gtk+-3.24.48:3"],
      fix: ">=x11-libs/gtk+-3.24.48:3",
    });
    expect(report.summary).toMatchObject({
      targetType: "prefix",
      findings: affected.size,
      failOn: "low",
      failed: true,
    });
    expect(r.stderr).toMatch(
      /warn: GLSA 209001-\d\d: x11-drivers\/nvidia-drivers-550\.100 counts as unaffected through >=x11-drivers\/nvidia-drivers-535\.216\.01/,
    );
  });

  it("prints a table and the counts by severity for people", () => {
    const r = compat(["audit", prefix, "--glsa", glsaDir, "--cache-dir", cache, "-q"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/ADVISORY\s+SEVERITY\s+INSTALLED\s+SLOT\s+FIX\s+CVES\s+TITLE/);
    expect(r.stdout).toMatch(
      /GLSA 209001-07\s+normal\s+x11-libs\/gtk\+-3\.24\.43\s+3\s+>=x11-libs\/gtk\+-3\.24\.48:3/,
    );
    expect(r.stdout).toContain(
      `${affected.size} findings in ${affected.size} packages from 8 advisories: 0 high, ${affected.size} normal, 0 low`,
    );
  });

  it("exits 0 when nothing reaches --fail-on", () => {
    const r = compat([
      "audit",
      prefix,
      "--glsa",
      glsaDir,
      "--cache-dir",
      cache,
      "--fail-on",
      "high",
      "--json",
    ]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).summary.failed).toBe(false);
  });

  it("exits 2 with a clear message on bad input", () => {
    let r = compat(["audit", join(root, "missing")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("does not exist");
    r = compat(["audit", prefix]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no GLSAs to audit against.*\n.*hint: give --glsa DIR/);
    r = compat(["audit", prefix, "--glsa", glsaDir, "--fail-on", "urgent"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are low, normal, high/);
    r = compat(["audit", prefix, "--glsa", glsaDir, "--arch", "foo"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--arch foo: not a CPU family or Gentoo keyword");
    expect(compat(["audit", prefix, "--glsa", glsaDir, "--arch", "amd64"]).status).not.toBe(2);
  });

  it("audits EESSI 2023.06's openssl against all GLSAs, cold then warm from the cache", () => {
    const layer = join(root, "2023.06/compat/linux/x86_64");
    writeVdbEntry(layer, "dev-libs/openssl-1.1.1w", "0/1.1");
    const args = ["audit", layer, "--glsa", GLSA_DIR, "--json", "--cache-dir", join(root, "real-cache")];
    const cold = compat(args);
    const warm = compat(args);
    expect(cold.status).toBe(1);
    const [c, w] = [JSON.parse(cold.stdout), JSON.parse(warm.stdout)];
    expect(c.summary).toMatchObject({ cache: "cold", advisories: 3817, arch: "x86_64" });
    expect(w.summary.cache).toBe("warm");
    expect(w.findings).toEqual(c.findings);
    expect(c.findings.map((f: { id: string; fix: string }) => [f.id, f.fix])).toEqual([
      ["202402-08", ">=dev-libs/openssl-3.0.10"],
    ]);
  });
});
