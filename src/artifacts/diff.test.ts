import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diffPackages, parsePackageList } from "./diff.js";

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
