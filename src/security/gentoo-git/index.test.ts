import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ebuild, makeGentooRepo } from "../../../test/helpers/gentoo-git.js";
import { writeVdbEntry } from "../../../test/helpers/glsa-fixtures.js";
import { resolveTarget, runAudit } from "../audit.js";
import { literalSlot, securityOf } from "./classify.js";
import { parseLog } from "./commits.js";

const work = mkdtempSync(join(tmpdir(), "compat-gentoo-git-"));
const repo = join(work, "gentoo");
const prefix = join(work, "prefix");
let hashes: string[] = [];
const day = (n: number) => new Date(Date.UTC(2026, 11, n, 12)).toISOString();

beforeAll(() => {
  for (const [cpv, slot] of [
    ["dev-libs/openssl-3.0.13", "0/3"],
    ["net-misc/curl-8.5.0", "0"],
    ["sys-libs/zlib-1.3", "0/1"],
    ["dev-lang/python-3.12.3", "3.12"],
    ["sys-apps/coreutils-9.4", "0"],
  ] as const)
    writeVdbEntry(prefix, cpv, slot);
  hashes = makeGentooRepo(repo, [
    {
      subject: "dev-libs/openssl: add 3.0.13",
      body: "Fixes CVE-2023-5678 (before the layer's commit: never reported).",
      add: { "dev-libs/openssl/openssl-3.0.13.ebuild": ebuild("0/3") },
      date: day(1),
    },
    {
      subject: "*/*: import the layer's tree",
      add: {
        "net-misc/curl/curl-8.5.0.ebuild": ebuild(),
        "sys-libs/zlib/zlib-1.3.ebuild": ebuild("0/1"),
        "dev-lang/python/python-3.12.3.ebuild": ebuild("3.12"),
        "sys-apps/coreutils/coreutils-9.4.ebuild": ebuild(),
      },
      date: day(1),
    },
    // --- after the layer's commit (hashes[1]) ---
    {
      subject: "dev-libs/openssl: add 3.0.15",
      body: "Fixes CVE-2024-5535 and CVE-2024-6119.",
      trailers: ["Bug: https://bugs.gentoo.org/938779"],
      add: { "dev-libs/openssl/openssl-3.0.15.ebuild": ebuild("0/3") },
      date: day(2),
    },
    {
      subject: "dev-libs/openssl: Stabilize 3.0.15 amd64, #938779",
      add: { "dev-libs/openssl/openssl-3.0.15.ebuild": ebuild("0/3", 'KEYWORDS="amd64"\n') },
      date: day(2),
    },
    {
      subject: "net-misc/curl: add 8.6.0",
      trailers: ["Closes: https://bugs.gentoo.org/911111"],
      add: { "net-misc/curl/curl-8.6.0.ebuild": ebuild() },
      date: day(3),
    },
    {
      subject: "net-misc/curl: add 8.7.1",
      body: "Security bump.",
      trailers: [
        "Bug: https://bugs.gentoo.org/928564",
        "Closes: https://github.com/gentoo/gentoo/pull/36000",
      ],
      add: { "net-misc/curl/curl-8.7.1.ebuild": ebuild() },
      date: day(3),
    },
    {
      subject: "sys-libs/zlib: add 1.3.1, drop vulnerable 1.3",
      trailers: ["Closes: https://bugs.gentoo.org/927777"],
      add: { "sys-libs/zlib/zlib-1.3.1.ebuild": ebuild("0/1") },
      remove: ["sys-libs/zlib/zlib-1.3.ebuild"],
      date: day(4),
    },
    {
      subject: "app-misc/notinstalled: fix CVE-2024-1111",
      add: { "app-misc/notinstalled/notinstalled-1.1.ebuild": ebuild() },
      date: day(4),
    },
    {
      subject: "dev-lang/python: add 3.13.1",
      body: "Includes the fix for CVE-2024-9287.",
      add: { "dev-lang/python/python-3.13.1.ebuild": ebuild("3.13") },
      date: day(5),
    },
    {
      subject: "dev-lang/python: add 3.12.8",
      body: "CVE-2024-9287",
      trailers: ["Bug: https://bugs.gentoo.org/941111"],
      add: { "dev-lang/python/python-3.12.8.ebuild": ebuild("3.12") },
      date: day(5),
    },
    {
      subject: "dev-libs/openssl: update metadata for CVE-2024-0727",
      add: { "dev-libs/openssl/metadata.xml": "<pkgmetadata/>\n" },
      date: day(6),
    },
    {
      subject: "dev-libs/openssl: add 3.0.12 (backport for CVE-2023-9999)",
      add: { "dev-libs/openssl/openssl-3.0.12.ebuild": ebuild("0/3") },
      date: day(6),
    },
    {
      subject: "sys-apps/coreutils: add 9.5",
      trailers: ["Bug: https://bugs.gentoo.org/925000"],
      add: { "sys-apps/coreutils/coreutils-9.5.ebuild": ebuild() },
      date: day(7),
    },
  ]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const audit = (extra: Record<string, unknown> = {}, now = new Date(day(8))) =>
  runAudit({
    target: resolveTarget(prefix),
    arch: "x86_64",
    sources: ["gentoo-git"],
    settings: { now, gentooGit: { repository: repo, commit: hashes[1], ...extra } },
    failOn: "low",
  });

describe("gentoo-git", () => {
  it("reports the security commits after the layer's commit that bring a newer version in the installed slot", async () => {
    const report = await audit();
    const rows = report.findings
      .map((f) => [f.id, f.installed, f.fix, f.cves, f.vulnerable])
      .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
    expect(rows).toEqual([
      [hashes[9]!.slice(0, 12), "dev-lang/python-3.12.3", ">=dev-lang/python-3.12.8", ["CVE-2024-9287"], []],
      [
        hashes[2]!.slice(0, 12),
        "dev-libs/openssl-3.0.13",
        ">=dev-libs/openssl-3.0.15",
        ["CVE-2024-5535", "CVE-2024-6119"],
        [],
      ],
      [hashes[5]!.slice(0, 12), "net-misc/curl-8.5.0", ">=net-misc/curl-8.7.1", [], []],
      [hashes[6]!.slice(0, 12), "sys-libs/zlib-1.3", ">=sys-libs/zlib-1.3.1", [], ["=sys-libs/zlib-1.3"]],
    ]);
    const openssl = report.findings.find((f) => f.package === "dev-libs/openssl")!;
    expect(openssl).toMatchObject({
      source: "gentoo-git",
      severity: "normal",
      slot: "0/3",
      title: "dev-libs/openssl: add 3.0.15 (bug 938779)",
      url: `https://gitweb.gentoo.org/repo/gentoo.git/commit/?id=${hashes[2]}`,
      upgrade: [">=dev-libs/openssl-3.0.15"],
    });
    expect(report.summary.sources[0]).toMatchObject({ status: "ok" });
  });

  it("counts a plain Bug: trailer as security only when the bug is listed as a security bug", async () => {
    const report = await audit({ securityBugs: new Set(["925000"]) });
    expect(report.findings.map((f) => f.installed)).toContain("sys-apps/coreutils-9.4");
  });

  it("reads the layer's commit from its build record, and says when the checkout is stale or lacks it", async () => {
    const stale = await audit({}, new Date(day(30)));
    expect(stale.summary.sources[0]).toMatchObject({ status: "stale" });
    expect(stale.summary.warnings.join("\n")).toMatch(/committer date of HEAD .* older than 7 days/);
    await expect(audit({ commit: "0123456789abcdef0123456789abcdef01234567" })).rejects.toThrow(
      /does not have the layer's gentoo.git commit 0123456789abcdef/,
    );
    await expect(audit({ commit: "--output=/tmp/x" })).rejects.toThrow(/is not a git commit id/);
    await expect(audit({ repository: join(work, "nope") })).rejects.toThrow(/does not exist/);
    await expect(audit({ repository: prefix })).rejects.toThrow(/is not a gentoo.git checkout/);
    // a checkout with no commit after the layer's checked nothing: no data, never "no findings"
    await expect(audit({ commit: hashes[hashes.length - 1] })).rejects.toThrow(
      /has no commit after the layer's [0-9a-f]{12}: there is nothing to check/,
    );
  });

  it("classifies messages as gentoo.git writes them, and skips log records it cannot read", () => {
    const commit = (message: string) => ({
      hash: "a".repeat(40),
      time: 0,
      subject: message.split("\n")[0]!,
      message,
      files: [],
    });
    expect(
      securityOf(commit("dev-libs/foo: add 1.2\n\nBug: https://bugs.gentoo.org/123456")),
    ).toBeUndefined();
    expect(
      securityOf(commit("dev-libs/foo: security bump to 1.2\n\nBug: https://bugs.gentoo.org/123456"))?.bugs,
    ).toEqual(["123456"]);
    expect(securityOf(commit("dev-libs/foo: add 1.2 (bug #654321, GLSA pending)"))?.bugs).toEqual(["654321"]);
    expect(securityOf(commit("dev-libs/foo: fix cve-2024-12345"))?.cves).toEqual(["CVE-2024-12345"]);
    expect(securityOf(commit("dev-libs/foo: vulnerable, says no bug"))).toBeUndefined();
    expect(literalSlot('EAPI=8\nSLOT="0/3"\n')).toBe("0");
    expect(literalSlot("SLOT=$(ver_cut 1-2)\n")).toBeUndefined();
    // a message may hold anything but NUL: a forged record inside it is just text
    const forged = `dev-libs/foo: add 1\n\x01${"c".repeat(40)}`;
    const { commits, problems } = parseLog(
      `\x01${"a".repeat(40)}\0not-a-time\0x\0\x01${"b".repeat(40)}\u00001700000000\0${forged}\0\nA\0dev-libs/foo/foo-1.ebuild\0`,
    );
    expect(commits.map((c) => [c.hash[0], c.subject, c.files])).toEqual([
      ["b", "dev-libs/foo: add 1", [{ status: "A", path: "dev-libs/foo/foo-1.ebuild" }]],
    ]);
    expect(problems).toEqual([expect.stringMatching(/git log record not understood/)]);
  });
});
