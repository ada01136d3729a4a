import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeVdbEntry } from "../../test/helpers/glsa-fixtures.js";
import { cycloneDx16, spdx23 } from "../../test/helpers/sbom-schemas.js";
import { prefixSubject, renderSbom } from "./index.js";
import { debPurl, ebuildPurl } from "./purl.js";

const work = mkdtempSync(join(tmpdir(), "compat-sbom-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const cdx = cycloneDx16();
const spdx = spdx23();

function debianLayer(): string {
  const prefix = join(work, "deb/2025.06/compat/linux/x86_64");
  cpSync(join(import.meta.dirname, "../security/debian-security/testdata/layer"), prefix, {
    recursive: true,
  });
  return prefix;
}

function gentooLayer(): string {
  const prefix = join(work, "gentoo/2025.06/compat/linux/aarch64");
  writeVdbEntry(prefix, "dev-libs/openssl-3.0.15-r1", "0/3");
  writeVdbEntry(prefix, "dev-lang/python-3.12.8", "3.12");
  writeVdbEntry(prefix, "dev-libs/libstdc++-compat-1.0", "0", "eessi");
  return prefix;
}

describe("package URLs", () => {
  it("are the ones Syft writes: ebuild with the whole category/name, deb with arch, distro and upstream", () => {
    expect(ebuildPurl("app-admin/eselect", "1.4.15")).toBe("pkg:ebuild/app-admin%2Feselect@1.4.15");
    const distro = { id: "debian", versionId: "11" };
    const p = (name: string, source = name, sourceVersion = "v") =>
      debPurl({ name, version: "v", architecture: "a", source, sourceVersion }, distro);
    expect(p("p")).toBe("pkg:deb/debian/p@v?arch=a&distro=debian-11");
    expect(p("p", "s")).toBe("pkg:deb/debian/p@v?arch=a&distro=debian-11&upstream=s");
    expect(p("p", "s", "2.3")).toBe("pkg:deb/debian/p@v?arch=a&distro=debian-11&upstream=s%402.3");
    expect(
      debPurl(
        {
          name: "libstdc++6",
          version: "12.2.0-14+deb12u1",
          architecture: "amd64",
          source: "gcc-12",
          sourceVersion: "12.2.0-14+deb12u1",
        },
        { id: "debian", versionId: "12" },
      ),
    ).toBe("pkg:deb/debian/libstdc%2B%2B6@12.2.0-14+deb12u1?arch=amd64&distro=debian-12&upstream=gcc-12");
  });
});

describe("SBOM documents", () => {
  it("of a debian layer: valid CycloneDX 1.6 and SPDX 2.3, every installed package with its purl, the same bytes twice", async () => {
    const subject = await prefixSubject(debianLayer(), { stack: "dev" });
    const text = renderSbom(subject, "cyclonedx");
    const doc = JSON.parse(text);
    expect(cdx(doc)).toEqual([]);
    expect(doc.metadata.component).toMatchObject({
      type: "platform",
      name: "dev-2025.06-compat-linux-x86_64",
    });
    const libs = doc.components.filter((c: { type: string }) => c.type === "library");
    expect(libs).toHaveLength(8);
    expect(libs.map((c: { purl: string }) => c.purl)).toContain(
      "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl",
    );
    expect(doc.components[0]).toMatchObject({ type: "operating-system", name: "debian", version: "12" });
    expect(renderSbom(await prefixSubject(debianLayer(), { stack: "dev" }), "cyclonedx")).toBe(text);
    const s = JSON.parse(renderSbom(subject, "spdx"));
    expect(spdx(s)).toEqual([]);
    expect(s.packages).toHaveLength(9);
    expect(
      s.relationships.filter((r: { relationshipType: string }) => r.relationshipType === "CONTAINS"),
    ).toHaveLength(8);
  });

  it("of a gentoo prefix: ebuild purls, slots and repositories as properties, unique SPDX ids", async () => {
    const subject = await prefixSubject(gentooLayer());
    const doc = JSON.parse(renderSbom(subject, "cyclonedx"));
    expect(cdx(doc)).toEqual([]);
    expect(doc.metadata.component.name).toBe("2025.06-compat-linux-aarch64");
    const openssl = doc.components.find((c: { name: string }) => c.name === "dev-libs/openssl");
    expect(openssl).toMatchObject({
      purl: "pkg:ebuild/dev-libs%2Fopenssl@3.0.15-r1",
      properties: [
        { name: "compat:package:slot", value: "0/3" },
        { name: "compat:package:repository", value: "gentoo" },
      ],
    });
    const s = JSON.parse(renderSbom(subject, "spdx"));
    expect(spdx(s)).toEqual([]);
    expect(s.packages.map((p: { SPDXID: string }) => p.SPDXID)).toContain(
      "SPDXRef-Package-vardb-dev-libs-libstdc-compat-1.0".replace("libstdc-", "libstdc--"),
    );
  });

  it("the validators do fail: a document without bomFormat, and an SPDX package without a name", async () => {
    const doc = JSON.parse(renderSbom(await prefixSubject(gentooLayer()), "cyclonedx"));
    delete doc.bomFormat;
    expect(cdx(doc).join()).toMatch(/bomFormat/);
    const s = JSON.parse(renderSbom(await prefixSubject(gentooLayer()), "spdx"));
    delete s.packages[1].name;
    expect(spdx(s).join()).toMatch(/name/);
  });

  it("refuses a directory without a package database", async () => {
    const empty = join(work, "empty");
    cpSync(join(import.meta.dirname, "testdata"), empty, { recursive: true });
    writeFileSync(join(empty, "x"), "");
    await expect(prefixSubject(empty)).rejects.toThrow(/no layer with a package database there/);
  });
});
