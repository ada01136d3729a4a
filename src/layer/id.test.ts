import { describe, expect, it } from "vitest";
import { isArch, layerTopDir, nodeArchToArch, parseLayerPath, parseTopDir } from "./id.js";

describe("layer identity", () => {
  it("parses a prefix path, its local copy and an artifact top dir alike", () => {
    const id = { version: "2025.06", os: "linux", arch: "x86_64" };
    expect(parseLayerPath("/cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64")).toEqual(id);
    expect(parseLayerPath("/srv/root/versions/2025.06/compat/linux/x86_64/")).toEqual(id);
    expect(parseLayerPath("2025.06/compat/linux/x86_64")).toEqual(id);
    expect(parseTopDir("2025.06/compat/linux/x86_64")).toEqual(id);
    expect(layerTopDir(id)).toBe("2025.06/compat/linux/x86_64");
  });

  it("reads an unknown arch as it is (callers say what is wrong with it)", () => {
    expect(parseLayerPath("/r/versions/2025.06/compat/linux/mips")?.arch).toBe("mips");
    expect(isArch("mips")).toBe(false);
    expect(isArch("riscv64")).toBe(true);
  });

  it("refuses what is not a layer path", () => {
    for (const p of [
      "/r/versions/2025.06/compat/linux",
      "/r/versions/latest/compat/linux/x86_64", // a version starts with a digit
      "/r/versions/2025.06/compat/Linux/x86_64",
      "/r/versions/2025.06/kompat/linux/x86_64",
      "/r/versions/2025.06/compat/linux/x86-64",
    ])
      expect(parseLayerPath(p), p).toBeUndefined();
    for (const d of [
      "versions/2025.06/compat/linux/x86_64",
      "2025.06/compat/linux",
      "../compat/linux/x86_64",
      "2025.06/compat/./x86_64",
      "2025.06/compat//x86_64",
      "/2025.06/compat/linux/x86_64",
    ])
      expect(parseTopDir(d), d).toBeUndefined();
  });

  it("names node's arches as ours", () => {
    expect(nodeArchToArch("x64")).toBe("x86_64");
    expect(nodeArchToArch("arm64")).toBe("aarch64");
    expect(nodeArchToArch("ia32")).toBeUndefined();
  });
});
