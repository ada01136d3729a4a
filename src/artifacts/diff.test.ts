import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diffLayers, diffPackages, type LayerSide, parsePackageList } from "./diff.js";

const fixture = (name: string) => {
  const path = join(import.meta.dirname, "testdata", name);
  return parsePackageList(path, readFileSync(path, "utf8"));
};

describe("package lists and their differences", () => {
  it("reads a dpkg list and a qlist -IRv list", () => {
    expect(fixture("packages-dpkg.txt")).toEqual({
      database: "dpkg",
      packages: [
        { name: "bash", version: "5.2.15-2+b7", arch: "amd64" },
        { name: "coreutils", version: "9.1-1", arch: "amd64" },
        { name: "libc6", version: "2.36-9+deb12u4", arch: "amd64" },
      ],
    });
    const q = fixture("packages-qlist.txt");
    expect(q.database).toBe("vardb");
    expect(q.packages.map((p) => `${p.name} ${p.version}`)).toEqual([
      "app-shells/bash 5.2_p26",
      "dev-libs/openssl 3.0.13",
      "sys-libs/glibc 2.39-r6",
    ]);
  });

  it("names the line of a broken list", () => {
    expect(() => fixture("packages-broken.txt")).toThrow(/packages-broken.txt:2: not a package line/);
  });

  it("compares versions with the database's own rules", () => {
    const d = diffPackages(
      {
        database: "dpkg",
        packages: [
          { name: "a", version: "1.0~rc1" },
          { name: "b", version: "2:1.0" },
          { name: "c", version: "1" },
        ],
      },
      {
        database: "dpkg",
        packages: [
          { name: "a", version: "1.0" },
          { name: "b", version: "9.0" },
          { name: "d", version: "1" },
        ],
      },
    );
    expect(d).toEqual({
      database: "dpkg",
      added: [{ name: "d", version: "1" }],
      removed: [{ name: "c", version: "1" }],
      upgraded: [{ name: "a", from: "1.0~rc1", to: "1.0" }],
      downgraded: [{ name: "b", from: "2:1.0", to: "9.0" }],
      unchanged: 0,
    });
    const g = diffPackages(
      { database: "vardb", packages: [{ name: "dev-libs/openssl", version: "1.1.1w", slot: "0" }] },
      { database: "vardb", packages: [{ name: "dev-libs/openssl", version: "1.1.1w-r1", slot: "0" }] },
    );
    expect(g.upgraded).toEqual([{ name: "dev-libs/openssl:0", from: "1.1.1w", to: "1.1.1w-r1" }]);
  });
});

describe("two layers of different CPU families", () => {
  const side = (source: string, arch: string, extra: Partial<LayerSide> = {}): LayerSide => ({
    source,
    kind: "package-list",
    packages: {
      database: "dpkg",
      packages: [
        { name: "libc6", version: "2.36-9", arch },
        { name: "bash", version: "5.2", arch },
        { name: "tzdata", version: "2024a", arch: "all" },
      ],
    },
    ...extra,
  });

  it("a note points at --arches (from the packages' arch, or the manifests')", () => {
    const d = diffLayers(side("amd64.txt", "amd64"), side("arm64.txt", "arm64"));
    expect(d.notes[0]).toBe(
      "amd64.txt is amd64, arm64.txt is arm64: across CPU families every package differs by its arch; compare them with compat diff --arches amd64.txt arm64.txt",
    );
    const m = diffLayers(
      side("a.tar.zst", "amd64", { arch: "x86_64" }),
      side("b.tar.zst", "amd64", { arch: "aarch64" }),
    );
    expect(m.notes[0]).toMatch(/^a\.tar\.zst is x86_64, b\.tar\.zst is aarch64: .*--arches/);
  });

  it("no note for two layers of one arch", () => {
    expect(diffLayers(side("a.txt", "amd64"), side("b.txt", "amd64")).notes).toEqual([
      "files not compared: a.txt is a package list",
    ]);
  });
});
