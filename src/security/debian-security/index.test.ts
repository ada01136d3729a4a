import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { resolveTarget, runAudit } from "../audit.js";
import { parseChangelog } from "./changelog.js";
import { changelogIn, MAX_CHANGELOG_BYTES } from "./changelogs.js";
import { securitySuiteOf } from "./index.js";
import { addPackagesIndex, emptyIndex } from "./packages.js";
import { parseRelease } from "./release.js";
import { pickTopLevel, TrackerFormatError, trackerIssues } from "./tracker.js";
import { urgencySeverity } from "./urgency.js";

const DATA = join(import.meta.dirname, "testdata");
const LISTS = join(DATA, "lists");
const work = mkdtempSync(join(tmpdir(), "compat-debsec-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The fixture layer, copied so a test may change it. */
function layer(name: string): string {
  const dir = join(work, name);
  cpSync(join(DATA, "layer"), dir, { recursive: true });
  return dir;
}

const NOW = new Date("2026-12-06T00:00:00Z");

describe("debian-security data formats", () => {
  it("parses changelog entries with their CVEs, urgency and a summary that is not boilerplate", () => {
    const log = parseChangelog(
      readFileSync(join(LISTS, "changelogs/openssl_3.0.15-1~deb12u1.changelog"), "utf8"),
    );
    expect(log.problem).toBeUndefined();
    expect(log.entries.map((e) => [e.version, e.urgency, e.cves])).toEqual([
      ["3.0.15-1~deb12u1", "medium", ["CVE-2024-5535", "CVE-2024-6119"]],
      ["3.0.14-1~deb12u2", "medium", []],
      ["3.0.14-1~deb12u1", "high", ["CVE-2024-4603", "CVE-2024-4741"]],
      ["3.0.13-1~deb12u1", "medium", ["CVE-2023-5678"]],
    ]);
    expect(log.entries[0]!.summary).toBe("Import 3.0.15");
    expect(log.entries[0]!.distributions).toEqual(["bookworm-security"]);
  });

  it("refuses a text with no entry header, and skips a header with an invalid version", () => {
    expect(parseChangelog("just text\n").problem).toMatch(/no entry header/);
    expect(parseChangelog("foo (!!) unstable; urgency=low\n\n  * x\n").problem).toMatch(/invalid version/);
    // CVE ids are validated: too few digits, or not an id at all, are not cited
    const e = parseChangelog(
      "foo (1.0-1) unstable; urgency=low\n\n  * CVE-2024-123 and cve-2024-12345 and CVE-24-1234\n",
    ).entries[0]!;
    expect(e.cves).toEqual(["CVE-2024-12345"]);
  });

  it("reads Release dates through the PGP armour", () => {
    const r = parseRelease(
      readFileSync(join(LISTS, "deb.debian.org_debian-security_dists_bookworm-security_InRelease"), "utf8"),
    );
    expect(r.codename).toBe("bookworm-security");
    expect(r.date?.toISOString()).toBe("2026-12-05T03:33:28.000Z");
    expect(r.validUntil?.toISOString()).toBe("2026-12-12T03:33:28.000Z");
  });

  it("indexes binaries by source, keeps the layer's arch and all, and names bad stanzas", () => {
    const index = emptyIndex();
    const file = join(
      LISTS,
      "deb.debian.org_debian-security_dists_bookworm-security_updates_main_binary-amd64_Packages",
    );
    addPackagesIndex(index, readFileSync(file, "utf8"), file, new Set(["amd64", "all"]));
    expect(
      index.sources
        .get("openssl")
        ?.binaries.map((b) => b.name)
        .sort(),
    ).toEqual(["libssl3", "openssl", "openssl-doc"]);
    expect(index.sources.get("zlib")?.version).toBe("1:1.2.13.dfsg-1+deb12u1");
    expect(index.sources.get("foo")?.version).toBe("1.0-1+deb12u1"); // the version in Source: (…), not the binNMU's
    expect(index.sources.get("libxml2")?.version).toBe("2.9.14+dfsg-1.3~deb12u2"); // arm64's 9.9-9 ignored
    expect(index.problems).toEqual([expect.stringMatching(/:42: broken has no valid Version/)]);
  });

  it("maps urgencies onto the severity scale, and says when it does not know one", () => {
    expect(
      [
        "unimportant",
        "low",
        "medium",
        "not yet assigned",
        "end-of-life",
        "high",
        "high**",
        "emergency",
        "critical",
      ].map((u) => urgencySeverity(u).severity),
    ).toEqual(["low", "low", "normal", "normal", "normal", "high", "high", "critical", "critical"]);
    expect(urgencySeverity("whenever")).toEqual({ severity: "normal", known: false });
  });

  it("decodes only the tracker packages asked for, and refuses what is not its JSON", () => {
    const bytes = readFileSync(join(DATA, "tracker.json"));
    const picked = pickTopLevel(bytes, new Set(["tar", "nothing-here"]));
    expect([...picked.keys()]).toEqual(["tar"]);
    const { issues, problems } = trackerIssues("tar", picked.get("tar"), "bookworm");
    expect(issues.map((i) => [i.cve, i.status, i.fixedVersion])).toEqual([
      ["CVE-2025-45582", "resolved", "1.34+dfsg-1.2+deb12u2"],
      ["CVE-2005-2541", "resolved", "0"],
    ]);
    expect(problems).toEqual([expect.stringMatching(/tar\/CVE-2099-0001: status "bogus"/)]);
    for (const bad of ["[1, 2]", '{"a": {', '{"a" 1}', '{"a": {"b": "unterminated}}'])
      expect(() => pickTopLevel(Buffer.from(bad), new Set(["a"]))).toThrow(TrackerFormatError);
    // a string value holding braces and escaped quotes does not confuse the scanner
    const tricky = Buffer.from('{"x": "}{\\"", "a": {"v": "}"}}');
    expect(pickTopLevel(tricky, new Set(["a"])).get("a")).toEqual({ v: "}" });
  });
});

describe("a changelog in an extracted .deb", () => {
  it("is read gunzipped; a corrupt one or a gzip bomb is a problem of that package, not a crash", () => {
    const tree = join(work, "deb-tree");
    const doc = join(tree, "usr/share/doc");
    for (const b of ["good", "corrupt", "bomb", "native"]) mkdirSync(join(doc, b), { recursive: true });
    writeFileSync(join(doc, "good/changelog.Debian.gz"), gzipSync("good (1.0-1) bookworm; urgency=low\n"));
    writeFileSync(join(doc, "native/changelog.gz"), gzipSync("native (2.0) bookworm; urgency=low\n"));
    writeFileSync(join(doc, "corrupt/changelog.Debian.gz"), "not gzip at all");
    writeFileSync(join(doc, "bomb/changelog.Debian.gz"), gzipSync(Buffer.alloc(MAX_CHANGELOG_BYTES + 1)));
    expect(changelogIn(tree, "good")).toMatch(/^good \(1\.0-1\)/);
    expect(changelogIn(tree, "native")).toMatch(/^native \(2\.0\)/);
    expect(changelogIn(tree, "corrupt")).toEqual({
      problem: expect.stringMatching(/changelog.Debian.gz unreadable/),
    });
    expect(changelogIn(tree, "bomb")).toEqual({
      problem: expect.stringMatching(/changelog.Debian.gz unreadable/),
    });
    expect(changelogIn(tree, "absent")).toBeUndefined();
  });
});

describe("debian-security audits (offline, a given index)", () => {
  const settings = (extra: Record<string, unknown> = {}) => ({
    now: NOW,
    debianSecurity: { index: LISTS, ...extra },
  });

  it("lists the missing security updates per changelog entry, with CVEs, fixes and apt upgrades", async () => {
    const prefix = layer("plain");
    const report = await runAudit({
      target: resolveTarget(prefix),
      arch: "x86_64",
      settings: settings(),
      failOn: "high",
    });
    const rows = report.findings.map((f) => [f.id, f.severity, f.installed, f.fix, f.cves, f.upgrade]);
    expect(rows).toEqual([
      [
        "zlib_1:1.2.13.dfsg-1+deb12u1",
        "critical",
        "zlib_1:1.2.13.dfsg-1",
        "zlib (>= 1:1.2.13.dfsg-1+deb12u1)",
        [],
        ["zlib1g=1:1.2.13.dfsg-1+deb12u1"],
      ],
      [
        "openssl_3.0.14-1~deb12u1",
        "high",
        "openssl_3.0.13-1~deb12u1",
        "openssl (>= 3.0.14-1~deb12u1)",
        ["CVE-2024-4603", "CVE-2024-4741"],
        ["libssl3=3.0.15-1~deb12u1", "openssl=3.0.15-1~deb12u1"],
      ],
      [
        "openssl_3.0.15-1~deb12u1",
        "normal",
        "openssl_3.0.13-1~deb12u1",
        "openssl (>= 3.0.15-1~deb12u1)",
        ["CVE-2024-5535", "CVE-2024-6119"],
        ["libssl3=3.0.15-1~deb12u1", "openssl=3.0.15-1~deb12u1"],
      ],
      [
        "libxml2_2.9.14+dfsg-1.3~deb12u2",
        "normal",
        "libxml2_2.9.14+dfsg-1.3~deb12u1",
        "libxml2 (>= 2.9.14+dfsg-1.3~deb12u2)",
        [],
        ["libxml2=2.9.14+dfsg-1.3~deb12u2"],
      ],
      [
        "foo_1.0-1+deb12u1",
        "normal",
        "foo_1.0-1",
        "foo (>= 1.0-1+deb12u1)",
        [],
        ["libfoo1=1.0-1+deb12u1+b1"],
      ],
    ]);
    expect(report.findings[0]!.title).toMatch(/the changelog cites no CVE/);
    const s = report.summary;
    expect(s.ecosystem).toBe("debian");
    expect(s.installedPackages).toBe(8);
    expect(s.sources).toEqual([
      expect.objectContaining({ id: "debian-security", status: "ok", findings: 5 }),
    ]);
    expect(s.failed).toBe(true);
    expect(s.warnings.join("\n")).toMatch(
      /libxml2 2.9.14\+dfsg-1.3~deb12u2: changelog .* is not usable: no entry header/,
    );
    expect(s.warnings.join("\n")).toMatch(
      /foo 1.0-1\+deb12u1: no changelog of foo 1.0-1\+deb12u1 here \(offline: nothing fetched\); its CVEs are unknown/,
    );
    expect(s.warnings.join("\n")).toMatch(
      /invalid debian-security entry skipped: .*broken has no valid Version/,
    );
  });

  it("adds the tracker's open CVEs and fixes no changelog cited, and takes its urgency over the upload's", async () => {
    const report = await runAudit({
      target: resolveTarget(layer("tracked")),
      arch: "x86_64",
      settings: settings({ tracker: join(DATA, "tracker.json") }),
      failOn: "low",
    });
    const byId = new Map(report.findings.map((f) => [f.id, f]));
    expect(byId.get("CVE-2025-5278")).toMatchObject({ package: "coreutils", fix: null, severity: "low" });
    expect(byId.get("CVE-2025-5278")!.title).toMatch(/no advisory planned: Minor issue/);
    expect(byId.has("CVE-2016-2781")).toBe(false); // unimportant
    expect(byId.get("CVE-2025-45582")).toMatchObject({
      package: "tar",
      fix: "tar (>= 1.34+dfsg-1.2+deb12u2)",
    });
    expect(byId.has("CVE-2005-2541")).toBe(false); // fixed_version 0: never affected
    expect(byId.get("openssl_3.0.15-1~deb12u1")!.severity).toBe("high"); // tracker's high** over the upload's medium
    expect(report.summary.warnings.join("\n")).toMatch(
      /tracker tar\/CVE-2099-0001: status "bogus" .* \(skipped\)/,
    );
  });

  it("says the data is stale, and a tracker that is not JSON is skipped with a warning", async () => {
    const bad = join(work, "bad-tracker.json");
    writeFileSync(bad, "<html>not json</html>");
    const report = await runAudit({
      target: resolveTarget(layer("stale")),
      arch: "x86_64",
      settings: { ...settings({ tracker: bad }), now: new Date("2027-03-01T00:00:00Z") },
      failOn: "low",
    });
    expect(report.summary.sources[0]).toMatchObject({ status: "stale" });
    expect(report.summary.incomplete).toBe(true);
    expect(report.summary.warnings.join("\n")).toMatch(/older than 7 days/);
    expect(report.summary.warnings.join("\n")).toMatch(/bad-tracker.json is not the tracker's JSON/);
  });

  it("refuses an index without the layer's arch, a gentoo source for a debian layer, and no data", async () => {
    const prefix = layer("refusals");
    await expect(
      runAudit({ target: resolveTarget(prefix), arch: "aarch64", settings: settings(), failOn: "low" }),
    ).rejects.toThrow(/has no index of bookworm-security for arm64/);
    await expect(
      runAudit({ target: resolveTarget(prefix), arch: "x86_64", sources: ["glsa"], failOn: "low" }),
    ).rejects.toThrow(/--source glsa judges gentoo layers, and .* is a debian layer/);
    await expect(
      runAudit({ target: resolveTarget(prefix), arch: "x86_64", settings: { now: NOW }, failOn: "low" }),
    ).rejects.toThrow(/the cache is off/);
    await expect(
      runAudit({ target: resolveTarget(prefix), arch: "x86_64", sources: ["nvd"], failOn: "low" }),
    ).rejects.toThrow(/--source nvd: no such advisory source/);
    // a status database with no installed package, or none readable: an audit of nothing is refused
    const status = join(prefix, "var/lib/dpkg/status");
    writeFileSync(status, "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n");
    await expect(
      runAudit({ target: resolveTarget(prefix), arch: "x86_64", settings: settings(), failOn: "low" }),
    ).rejects.toThrow(/status has no installed packages: there is nothing to audit/);
    writeFileSync(status, "Package: broken\nVersion: 1\n");
    await expect(
      runAudit({ target: resolveTarget(prefix), arch: "x86_64", settings: settings(), failOn: "low" }),
    ).rejects.toThrow(/none of the 1 stanzas of .*status could be read: nothing was audited/);
  });

  it("takes only a plain http(s) URI, suite and components from the layer's own apt sources", () => {
    const facts = (uris: string[], suites: string[], components: string[]) => ({
      label: "l",
      arch: "x86_64",
      debianRelease: "bookworm",
      aptSources: [{ uris, suites, components, origin: "layer" }],
    });
    expect(
      securitySuiteOf(facts(["http://mirror.example/debian-security"], ["bookworm-security"], ["main"])),
    ).toEqual({
      suite: "bookworm-security",
      uri: "http://mirror.example/debian-security",
      components: ["main"],
    });
    expect(securitySuiteOf(facts(["file:///etc"], ["bookworm-security"], ["main", "[trusted=yes]"]))).toEqual(
      {
        suite: "bookworm-security",
        components: ["main"],
      },
    );
    expect(securitySuiteOf(facts(["http://x/"], ["bookworm"], []))).toEqual({
      suite: "bookworm-security",
      components: ["main"],
    });
  });
});
