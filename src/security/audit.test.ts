import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeGlsa, writeScenarioPrefix, writeVdbEntry } from "../../test/helpers/glsa-fixtures.js";
import { GLSA_DIR } from "../../test/helpers/shared-data.js";
import { InputError } from "../errors.js";
import { resolveTarget, runAudit } from "./audit.js";
import { loadGlsaCorpus } from "./glsa/corpus.js";

const root = mkdtempSync(join(tmpdir(), "compat-audit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("audit of a vdb built from glsa_scenarios_portage_derived.json", () => {
  const { prefix, glsaDir, affected } = writeScenarioPrefix(join(root, "scenarios"));

  it("reports exactly the installed packages Portage's glsa.match() reports", async () => {
    const report = await runAudit({ target: resolveTarget(prefix), glsaDir, arch: "x86_64", failOn: "low" });
    expect(new Set(report.findings.map((f) => f.installed))).toEqual(affected);
    expect(report.summary).toMatchObject({ installedPackages: 40, findings: affected.size, failed: true });
  });

  it("warns about the pitfalls it can see (multi-branch, revision-only, eq without revision)", async () => {
    const { summary } = await runAudit({
      target: resolveTarget(prefix),
      glsaDir,
      arch: "x86_64",
      failOn: "high",
    });
    const text = summary.warnings.join("\n");
    expect(text).toMatch(
      /nvidia-drivers-550\.100 counts as unaffected through >=x11-drivers\/nvidia-drivers-535\.216\.01 \(the fix of another branch\) although its branch is fixed only in >=x11-drivers\/nvidia-drivers-550\.127\.05/,
    );
    expect(text).toMatch(
      /dev-vcs\/git-2\.23\.4 is reported although it is newer than the fixed >=~dev-vcs\/git-2\.23\.3/,
    );
    expect(text).toMatch(
      /librnp-0\.18\.0-r1 differs from vulnerable =dev-util\/librnp-0\.18\.0 only in its revision/,
    );
    // and nothing about packages that are fine: the fixed 535 branch, the r-ranges' own versions
    expect(text).not.toMatch(
      /nvidia-drivers-535\.216\.01 counts|git-2\.23\.3(-r1)? is reported|baz-1\.1-r2 is reported/,
    );
    expect(summary.failed).toBe(false); // all findings are "normal"
  });
});

describe("audit of dev-libs/openssl-1.1.1w (EESSI 2023.06) against the real GLSAs", () => {
  const prefix = join(root, "eessi-2023.06/compat/linux/x86_64");
  writeVdbEntry(prefix, "dev-libs/openssl-1.1.1w", "0/1.1");
  writeVdbEntry(prefix, "sys-libs/zlib-1.3.1", "0/1");

  it("lists the OpenSSL advisories that hit it, with fix atoms and CVEs", async () => {
    const report = await runAudit({
      target: resolveTarget(prefix),
      glsaDir: GLSA_DIR,
      arch: "x86_64",
      failOn: "low",
    });
    const openssl = report.findings.filter((f) => f.package === "dev-libs/openssl");
    expect(openssl.map((f) => f.id)).toEqual(["202402-08"]);
    expect(openssl[0]).toEqual({
      source: "glsa",
      id: "202402-08",
      title: "OpenSSL: Multiple Vulnerabilities",
      severity: "normal",
      package: "dev-libs/openssl",
      installed: "dev-libs/openssl-1.1.1w",
      slot: "0/1.1",
      vulnerable: ["<dev-libs/openssl-3.0.10"],
      unaffected: [">=dev-libs/openssl-3.0.10"],
      fix: ">=dev-libs/openssl-3.0.10",
      cves: expect.arrayContaining(["CVE-2023-0464", "CVE-2023-2650", "CVE-2023-3817"]),
      url: "https://security.gentoo.org/glsa/202402-08",
    });
    expect(openssl[0]!.cves).toHaveLength(16);
    expect(report.summary).toMatchObject({ advisories: 3817, installedPackages: 2, arch: "x86_64" });
  });
});

describe("audit targets and bad input", () => {
  it("reads a qlist -IRv list and finds the prefix of an EESSI reprod list", async () => {
    const prefix = join(root, "listed");
    writeVdbEntry(prefix, "dev-libs/foo-1.0", "0");
    writeGlsa(join(prefix, "var/db/repos/gentoo/metadata/glsa"), {
      id: "209002-01",
      impact: "high",
      packages: [
        {
          name: "dev-libs/foo",
          vulnerable: [{ range: "lt", version: "1.1" }],
          unaffected: [{ range: "ge", version: "1.1" }],
        },
      ],
    });
    const list = join(prefix, "reprod/20230601_000000UTC/packages.txt");
    mkdirSync(join(list, ".."), { recursive: true });
    writeFileSync(list, "dev-libs/foo-1.0::gentoo\nsys-apps/bar-2::gentoo\n");
    const target = resolveTarget(list);
    expect(target).toMatchObject({ kind: "list", prefix });
    const report = await runAudit({ target, arch: "x86_64", failOn: "high" });
    expect(report.findings.map((f) => [f.installed, f.slot, f.fix])).toEqual([
      ["dev-libs/foo-1.0", null, ">=dev-libs/foo-1.1"],
    ]);
    expect(report.summary).toMatchObject({
      installedPackages: 2,
      failed: true,
      bySeverity: { critical: 0, high: 1, normal: 0, low: 0 },
    });
    expect(report.summary.warnings.join("\n")).toMatch(/has no slots/);
  });

  it("rejects what is not a prefix or a list, with a hint", async () => {
    expect(() => resolveTarget(join(root, "nope"))).toThrow(InputError);
    mkdirSync(join(root, "empty"), { recursive: true });
    expect(() => resolveTarget(join(root, "empty"))).toThrow(
      /is not a layer: it has neither var\/db\/pkg nor var\/lib\/dpkg\/status/,
    );
    const bad = join(root, "bad.txt");
    writeFileSync(bad, "foo bar\nnot a package\n");
    await expect(
      runAudit({
        target: resolveTarget(bad),
        glsaDir: join(root, "listed/var/db/repos/gentoo/metadata/glsa"),
        arch: "x86_64",
        failOn: "low",
      }),
    ).rejects.toThrow(/not a package list \(2 bad lines\)/);
    // a bad line among good ones is skipped and reported with its line number
    const partial = join(root, "partial.txt");
    writeFileSync(partial, "dev-libs/foo-1.0\nfoo bar\n");
    const report = await runAudit({
      target: resolveTarget(partial),
      glsaDir: join(root, "listed/var/db/repos/gentoo/metadata/glsa"),
      arch: "x86_64",
      failOn: "low",
    });
    expect(report.summary.warnings).toContainEqual(
      expect.stringMatching(/partial\.txt:2: .*\(line skipped\)/),
    );
    const noGlsa = join(root, "noglsa");
    writeVdbEntry(noGlsa, "dev-libs/foo-1.0", "0");
    // every source without data: refused, each source saying why
    const refusal = async (p: Promise<unknown>) => {
      const e = await p.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).message).toMatch(/no advisory data for .*: none of its sources has any/);
      return (e as InputError).details.join("\n");
    };
    expect(await refusal(runAudit({ target: resolveTarget(noGlsa), arch: "x86_64", failOn: "low" }))).toMatch(
      /glsa: no GLSAs to audit against.*\n {2}hint: give --glsa DIR/,
    );
    expect(
      await refusal(
        runAudit({
          target: resolveTarget(noGlsa),
          glsaDir: join(root, "empty"),
          arch: "x86_64",
          failOn: "low",
        }),
      ),
    ).toMatch(/glsa: no GLSA files \(glsa-\*\.xml\) in/);
    // a GLSA directory whose every file is invalid holds nothing to check against
    const allBad = join(root, "all-bad-glsa");
    mkdirSync(allBad, { recursive: true });
    writeFileSync(join(allBad, "glsa-209005-01.xml"), "<glsa>broken");
    const invalidOnly = await runAudit({
      target: resolveTarget(noGlsa),
      glsaDir: allBad,
      sources: ["glsa"],
      arch: "x86_64",
      failOn: "low",
    }).catch((e: unknown) => e);
    expect(invalidOnly).toBeInstanceOf(InputError);
    expect((invalidOnly as InputError).message).toMatch(
      /no usable advisory in it: there is nothing to check against/,
    );
    // asked for by name, the one source's own error
    await expect(
      runAudit({
        target: resolveTarget(noGlsa),
        glsaDir: join(root, "empty"),
        sources: ["glsa"],
        arch: "x86_64",
        failOn: "low",
      }),
    ).rejects.toThrow(/no GLSA files/);
  });

  it("reports invalid advisories and corrupt vdb entries, and audits the rest", async () => {
    const prefix = join(root, "mixed");
    const glsaDir = join(root, "mixed-glsa");
    writeVdbEntry(prefix, "dev-libs/foo-1.0", "0");
    // an entry without SLOT of a package an advisory names (only those are read in detail)
    mkdirSync(join(prefix, "var/db/pkg/dev-libs/foo-0.9"), { recursive: true });
    writeFileSync(join(prefix, "var/db/pkg/dev-libs/foo-0.9/repository"), "gentoo\n");
    writeGlsa(glsaDir, {
      id: "209003-01",
      packages: [{ name: "dev-libs/foo", vulnerable: [{ range: "le", version: "1.0" }], unaffected: [] }],
    });
    writeFileSync(join(glsaDir, "glsa-209003-02.xml"), "<glsa>broken");
    writeGlsa(glsaDir, {
      id: "209003-03",
      packages: [
        {
          name: "dev-libs/foo",
          arch: "amd64,x86",
          vulnerable: [{ range: "le", version: "1.0" }],
          unaffected: [],
        },
      ],
    });
    const report = await runAudit({ target: resolveTarget(prefix), glsaDir, arch: "x86_64", failOn: "low" });
    expect(report.findings.map((f) => [f.id, f.fix])).toEqual([["209003-01", null]]);
    const warnings = report.summary.warnings.join("\n");
    expect(warnings).toMatch(/invalid GLSA skipped: glsa-209003-02.xml: no DOCTYPE/);
    expect(warnings).toMatch(/GLSA 209003-03 skipped: Unrecognized arch list/);
    expect(warnings).toMatch(/dev-libs\/foo-0.9: partial entry: no SLOT; skipped/);
    // the skipped entry is not counted as audited, and the summary says so
    expect(report.summary).toMatchObject({ installedPackages: 1, skippedPackages: 1 });
    expect(warnings).toMatch(/1 installed package could not be read and was not audited/);
  });

  it("never passes an audit of nothing: an empty vdb, unreadable entries only, an empty or comment-only list", async () => {
    const glsaDir = join(root, "mixed-glsa");
    const empty = join(root, "empty-vdb");
    mkdirSync(join(empty, "var/db/pkg"), { recursive: true });
    await expect(
      runAudit({ target: resolveTarget(empty), glsaDir, arch: "x86_64", failOn: "low" }),
    ).rejects.toThrow(/has no installed packages: there is nothing to audit/);

    const unreadable = join(root, "slotless-vdb");
    mkdirSync(join(unreadable, "var/db/pkg/dev-libs/foo-0.9"), { recursive: true });
    const err = await runAudit({
      target: resolveTarget(unreadable),
      glsaDir,
      arch: "x86_64",
      failOn: "low",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(
      /none of the 1 entries .* could be read: nothing was audited/,
    );
    expect((err as InputError).details.join("\n")).toMatch(/foo-0\.9: partial entry: no SLOT/);

    for (const text of ["", "# qlist -IRv\n\n# nothing else\n"]) {
      const list = join(root, "comments.txt");
      writeFileSync(list, text);
      await expect(
        runAudit({ target: resolveTarget(list), glsaDir, arch: "x86_64", failOn: "low" }),
      ).rejects.toThrow(/no package in it \(empty, or only comments\): there is nothing to audit/);
    }
  });
});

describe("the GLSA corpus cache", () => {
  const dir = join(root, "cache-glsa");
  const cache = join(root, "cache");
  for (let i = 1; i <= 3; i++)
    writeGlsa(dir, {
      id: `209004-0${i}`,
      packages: [
        {
          name: `dev-libs/p${i}`,
          vulnerable: [{ range: "lt", version: "2" }],
          unaffected: [{ range: "ge", version: "2" }],
        },
      ],
    });
  const old = new Date(Date.now() - 60_000);
  for (const f of readdirSync(dir)) utimesSync(join(dir, f), old, old);

  it("is built cold, reused warm, and rebuilt for the files whose content changed", async () => {
    const cold = await loadGlsaCorpus(dir, cache);
    expect(cold.cache).toBe("cold");
    const warm = await loadGlsaCorpus(dir, cache);
    expect(warm.cache).toBe("warm");
    expect(warm.advisories.map((a) => a.glsa().title)).toEqual(cold.advisories.map((a) => a.glsa().title));

    // same size, old mtime: only the content tells
    const file = join(dir, "glsa-209004-02.xml");
    writeFileSync(file, readFileSync(file, "utf8").replace("Advisory 209004-02", "Changed! 209004-02"));
    const changed = await loadGlsaCorpus(dir, cache);
    expect(changed.cache).toBe("partial");
    expect(changed.advisories[1]!.glsa().title).toBe("Changed! 209004-02");
    expect((await loadGlsaCorpus(dir, cache)).advisories[1]!.glsa().title).toBe("Changed! 209004-02");

    // edited in place, same size, its mtime (a minute old) put back: still seen (the cache is keyed by content)
    const minuteAgo = Math.floor(Date.now() / 1000) - 60;
    utimesSync(file, minuteAgo, minuteAgo);
    expect((await loadGlsaCorpus(dir, cache)).advisories[1]!.glsa().title).toBe("Changed! 209004-02");
    const size = statSync(file).size;
    writeFileSync(file, readFileSync(file, "utf8").replace("Changed! 209004-02", "Altered! 209004-02"));
    utimesSync(file, minuteAgo, minuteAgo);
    expect(statSync(file)).toMatchObject({ size, mtimeMs: minuteAgo * 1000 });
    const edited = await loadGlsaCorpus(dir, cache);
    expect(edited.cache).toBe("partial");
    expect(edited.advisories[1]!.glsa().title).toBe("Altered! 209004-02");

    rmSync(join(dir, "glsa-209004-03.xml"));
    expect((await loadGlsaCorpus(dir, cache)).advisories.map((a) => a.id)).toEqual([
      "209004-01",
      "209004-02",
    ]);
  });

  it("survives a cache cut short, a corrupt header and one of an older format by parsing again", async () => {
    const dirOf = join(cache, "glsa");
    const file = readdirSync(dirOf).find((f) => f.endsWith(".cache"))!;
    const whole = readFileSync(join(dirOf, file));
    writeFileSync(join(dirOf, file), whole.subarray(0, whole.length - 10));
    expect((await loadGlsaCorpus(dir, cache)).cache).toBe("cold");
    writeFileSync(join(dirOf, file), `{ not json\n${whole.toString("utf8")}`);
    const again = await loadGlsaCorpus(dir, cache);
    expect(again.cache).toBe("cold");
    expect(again.advisories).toHaveLength(2);
    expect((await loadGlsaCorpus(dir, cache)).cache).toBe("warm");
    // an older format's files are replaced
    const key = file.split(".")[0]!;
    writeFileSync(join(dirOf, `${key}.index.json`), "{}");
    rmSync(join(dirOf, file));
    expect((await loadGlsaCorpus(dir, cache)).cache).toBe("cold");
    expect(readdirSync(dirOf)).toEqual([file]);
    expect((await loadGlsaCorpus(dir, cache)).cache).toBe("warm");
  });

  it("keeps invalid files in the cache, and reads each part of an advisory only when asked", async () => {
    const bad = join(dir, "glsa-209004-09.xml");
    writeFileSync(bad, readFileSync(join(dir, "glsa-209004-01.xml"), "utf8").replace("</title>", "</titel>"));
    utimesSync(bad, old, old);
    const cold = await loadGlsaCorpus(dir, cache);
    expect(cold.cache).toBe("partial");
    const warm = await loadGlsaCorpus(dir, cache);
    expect(warm.cache).toBe("warm");
    expect(warm.invalid).toEqual(cold.invalid);
    expect(warm.invalid.map((i) => i.file)).toEqual(["glsa-209004-09.xml"]);
    expect(warm.invalid[0]!.message).toMatch(
      /not well-formed XML: line \d+, column \d+: unexpected close tag/,
    );
    const a = warm.advisories[0]!;
    expect(a.packageNames).toEqual(["dev-libs/p1"]);
    expect(a.packages()).toEqual(cold.advisories[0]!.packages());
    expect(a.summary()).toEqual({ title: a.glsa().title, severity: a.glsa().severity, cves: a.glsa().cves });
    rmSync(bad);
  });
});
