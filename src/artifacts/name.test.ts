import { describe, expect, it } from "vitest";
import { layerTopDir } from "../layer/id.js";
import { artifactFileName, parseArtifactName } from "./name.js";

describe("artifact names", () => {
  it("round-trips full and delta names", () => {
    const id = {
      stack: "eessi",
      version: "2025.06",
      os: "linux",
      arch: "x86_64",
      epoch: 1750000000,
    } as const;
    for (const kind of ["full", "delta"] as const)
      for (const compression of ["zstd", "gzip"] as const) {
        const name = artifactFileName({ ...id, kind, compression });
        expect(parseArtifactName(name)).toEqual({ ...id, kind, compression });
      }
    expect(artifactFileName({ ...id, kind: "full", compression: "zstd" })).toBe(
      "eessi-2025.06-compat-linux-x86_64-1750000000.tar.zst",
    );
    expect(layerTopDir(id)).toBe("2025.06/compat/linux/x86_64");
  });

  it("refuses to name an artifact whose parts would not read back (a stack from a build record is input too)", () => {
    const id = {
      version: "2025.06",
      os: "linux",
      arch: "x86_64",
      epoch: 1,
      kind: "full",
      compression: "zstd",
    } as const;
    for (const stack of ["../../tmp/x", "a/b", "", "Eessi", "dev-1"])
      expect(() => artifactFileName({ ...id, stack })).toThrow(/does not read back/);
    expect(() => artifactFileName({ ...id, stack: "eessi", version: "../x" })).toThrow(/does not read back/);
    expect(() => artifactFileName({ ...id, stack: "eessi", os: "linux/../x" })).toThrow(/does not read back/);
  });

  it("reads stacks and versions with dashes", () => {
    expect(parseArtifactName("my-stack-2025.06-001-compat-linux-aarch64-17.tar.gz")).toMatchObject({
      stack: "my-stack",
      version: "2025.06-001",
      arch: "aarch64",
    });
  });

  it.each([
    "eessi-2025.06-software-linux-x86_64-1750000000.tar.zst",
    "eessi-2025.06-compat-linux-x86_64-1750000000.tar",
    "eessi-2025.06-compat-linux-x86_64-1750000000.tar.xz",
    "eessi-2025.06-compat-linux-sparc-1750000000.tar.zst",
    "eessi-2025.06-compat-linux-x86_64.tar.zst",
  ])("rejects %s", (name) => {
    expect(() => parseArtifactName(name)).toThrow(/not an artifact name|unknown architecture/);
  });
});
