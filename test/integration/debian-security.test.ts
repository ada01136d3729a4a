/**
 * The acceptance of the debian-security source, on the real Debian archive: two layers built by
 * compat from bookworm, one from the suite alone (the suite's shared outdated dev layer, its mirror
 * given: no security updates), one built here with the host's sources (bookworm, -updates,
 * -security). `compat audit` must list the security
 * updates the first lacks, with the CVEs their changelogs cite, and exactly the source packages
 * apt itself would upgrade from the security suite (apt-cache policy over the layer's dpkg status
 * and the same index: the oracle); the second must have no findings.
 */
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDpkgStatus } from "../../src/debian/status.js";
import { buildLayer } from "../../src/pipeline/build.js";
import { HumanProgress } from "../../src/pipeline/progress.js";
import { compatAsync } from "../helpers/cli.js";
import { outdatedDevLayer } from "../helpers/dev-layer.js";

const canBuild = process.getuid?.() === 0 && process.arch === "x64";
const work = mkdtempSync(join(tmpdir(), "compat-debsec-int-"));
const cache = join(work, "cache");
// lmod, locales and ca-certificates: what the check stage of a build wants of every layer
const PACKAGES = ["openssl", "libxml2", "curl", "lmod", "locales", "ca-certificates"];

function spec(name: string): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    [
      "repository: software.example.org",
      `stack: ${name}`,
      'version: "2025.06"',
      "arches: [x86_64]",
      "flavor: debian",
      "debian:",
      "  suite: bookworm",
      "  variant: minbase",
      `  packages: [${PACKAGES.join(", ")}]`,
      'locales: ["en_US.UTF-8 UTF-8"]',
      "variantSymlinks: {enabled: false}",
      "",
    ].join("\n"),
  );
  return file;
}

async function build(name: string): Promise<string> {
  const root = join(work, name, "root");
  const log = createWriteStream(join(work, `${name}.log`));
  await buildLayer({
    specFile: spec(name),
    arch: "x86_64",
    root,
    runsDir: join(work, name, "runs"),
    reporter: new HumanProgress(log, false),
  }).finally(() => log.end());
  return join(root, "versions/2025.06/compat/linux/x86_64");
}

let without = "";
let withUpdates = "";

beforeAll(async () => {
  if (!canBuild) return;
  // the suite without its security updates first; the layer with them last, so that the index
  // the audit fetches is never older than what that layer was built from
  without = (await outdatedDevLayer()).localPrefix;
  withUpdates = await build("secure");
}, 900_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function audit(prefix: string) {
  const r = await compatAsync(["audit", prefix, "--json", "--cache-dir", cache]);
  return { status: r.status, stderr: r.stderr, report: JSON.parse(r.stdout || "null") };
}

/** apt's own answer: source packages of the layer's binaries whose candidate in the index is newer. */
function aptOracle(prefix: string): Set<string> {
  const aptRoot = join(cache, "debian-security/apt");
  const [key] = readdirSync(aptRoot);
  const dir = join(aptRoot, key!);
  const status = join(prefix, "var/lib/dpkg/status");
  const installed = parseDpkgStatus(readFileSync(status, "utf8")).packages;
  const out = execFileSync(
    "apt-cache",
    [
      "-o",
      `Dir::State::Lists=${join(dir, "lists")}`,
      "-o",
      `Dir::State::status=${status}`,
      "-o",
      `Dir::Etc::SourceList=${join(dir, "sources.list")}`,
      "-o",
      "Dir::Etc::SourceParts=/dev/null",
      "-o",
      `Dir::Cache=${dir}`,
      "-o",
      "Dir::Cache::pkgcache=",
      "-o",
      "Dir::Cache::srcpkgcache=",
      "-o",
      "APT::Architecture=amd64",
      "policy",
      ...installed.map((p) => p.name),
    ],
    { encoding: "utf8", maxBuffer: 1 << 26 },
  );
  const sources = new Set<string>();
  for (const block of out.split(/\n(?=\S)/)) {
    const name = /^(\S+):/.exec(block)?.[1];
    const inst = /Installed: (\S+)/.exec(block)?.[1];
    const cand = /Candidate: (\S+)/.exec(block)?.[1];
    if (name && inst && cand && inst !== cand) sources.add(installed.find((p) => p.name === name)!.source);
  }
  return sources;
}

describe.runIf(canBuild)("debian-security on the real archive", () => {
  it("lists the security updates a layer built without them lacks, with their CVEs, as apt would upgrade them", async () => {
    const { status, report, stderr } = await audit(without);
    expect(report, stderr).not.toBeNull();
    expect(report.summary.sources).toEqual([
      expect.objectContaining({ id: "debian-security", status: "ok" }),
    ]);
    const oracle = aptOracle(without);
    expect(oracle.size).toBeGreaterThan(0);
    const packages = new Set(report.findings.map((f: { package: string }) => f.package));
    expect([...packages].sort()).toEqual([...oracle].sort());
    expect(status).toBe(1);
    const cves: string[] = report.findings.flatMap((f: { cves: string[] }) => f.cves);
    expect(cves.length).toBeGreaterThan(0);
    for (const c of cves) expect(c).toMatch(/^CVE-\d{4}-\d{4,}$/);
    for (const f of report.findings) {
      expect(f.id).toMatch(new RegExp(`^${f.package.replace(/[+.]/g, "\\$&")}_`));
      expect(f.upgrade.length).toBeGreaterThan(0);
    }
  });

  it("finds nothing in a layer built with the security suite", async () => {
    const { status, report, stderr } = await audit(withUpdates);
    expect(report, stderr).not.toBeNull();
    expect(report.summary.sources).toEqual([
      expect.objectContaining({ id: "debian-security", status: "ok" }),
    ]);
    expect(report.findings).toEqual([]);
    expect(report.summary.installedPackages).toBeGreaterThan(50);
    expect(status).toBe(0);
    expect(aptOracle(withUpdates).size).toBe(0);
  });
});
