import { describe, expect, it } from "vitest";
import type { Finding } from "../../security/advisory.js";
import { compareAudits, namedBy, requestedName } from "./audit-compare.js";

const finding = (over: Partial<Finding> & { upgrade?: string[] }): Finding & { upgrade?: string[] } => ({
  source: "glsa",
  id: "202402-08",
  title: "t",
  severity: "high",
  package: "dev-libs/openssl",
  installed: "dev-libs/openssl-3.0.12",
  slot: "0",
  vulnerable: [],
  unaffected: [],
  fix: ">=dev-libs/openssl-3.0.13",
  cves: [],
  url: "",
  ...over,
});

const ssl = finding({});
const zlib = finding({ id: "202401-01", package: "sys-libs/zlib", installed: "sys-libs/zlib-1.2.13" });
const debSsl = finding({
  source: "debian-security",
  id: "openssl_3.0.15-1~deb12u1",
  package: "openssl",
  installed: "openssl_3.0.11-1~deb12u2",
  upgrade: ["libssl3=3.0.15-1~deb12u1", "openssl=3.0.15-1~deb12u1"],
});

describe("requestedName", () => {
  it("takes category/name of any gentoo atom and the name of apt's name=version", () => {
    expect(requestedName(">=dev-libs/openssl-3.0.13:0/3::gentoo")).toBe("dev-libs/openssl");
    expect(requestedName("dev-libs/openssl")).toBe("dev-libs/openssl");
    expect(requestedName("libssl3=3.0.15-1~deb12u1")).toBe("libssl3");
    expect(requestedName("libssl3")).toBe("libssl3");
  });
});

describe("namedBy", () => {
  it("matches a debian finding by its source package or a binary its fix upgrades", () => {
    expect(namedBy(["libssl3"], debSsl)).toBe(true);
    expect(namedBy(["openssl=3.0.15-1~deb12u1"], debSsl)).toBe(true);
    expect(namedBy(["libcurl4"], debSsl)).toBe(false);
  });
  it("does not take a package whose name only starts alike", () => {
    expect(namedBy(["dev-libs/openssl-compat"], ssl)).toBe(false);
    expect(namedBy(["=dev-libs/openssl-3.0.13"], ssl)).toBe(true);
  });
});

describe("compareAudits", () => {
  it("passes what the update was for when it is gone, and counts the rest as untouched", () => {
    const c = compareAudits([ssl, zlib], [zlib], ["dev-libs/openssl"]);
    expect(c.targeted).toEqual([ssl]);
    expect(c.resolved).toEqual([ssl]);
    expect(c.remaining).toEqual([]);
    expect(c.introduced).toEqual([]);
    expect(c.untouched).toEqual([zlib]);
  });

  it("names a targeted finding the candidate still has (another installed version, same advisory)", () => {
    const still = { ...ssl, installed: "dev-libs/openssl-3.0.12-r1" };
    const c = compareAudits([ssl], [still], ["dev-libs/openssl"]);
    expect(c.remaining).toEqual([still]);
    expect(c.resolved).toEqual([]);
  });

  it("targets every finding when the update names no package (--all)", () => {
    for (const packages of [undefined, []]) {
      const c = compareAudits([ssl, zlib], [zlib], packages);
      expect(c.targeted).toEqual([ssl, zlib]);
      expect(c.remaining).toEqual([zlib]);
    }
  });

  it("names a finding the published layer did not have as new, whatever the update was for", () => {
    const c = compareAudits([ssl], [finding({ id: "202405-01" })], ["sys-libs/zlib"]);
    expect(c.introduced.map((f) => f.id)).toEqual(["202405-01"]);
  });

  it("with nothing published before, every finding of the candidate is new", () => {
    expect(compareAudits([], [debSsl], undefined).introduced).toEqual([debSsl]);
  });
});
