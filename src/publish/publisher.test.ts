import { describe, expect, it } from "vitest";
import { nextBackupName, parseKeptLayerName } from "./publisher.js";

describe("kept layer names", () => {
  it("are .<arch>-NNN of an arch compat knows, nothing else beside a layer", () => {
    expect(parseKeptLayerName(".x86_64-001")).toEqual({ arch: "x86_64", n: 1 });
    expect(parseKeptLayerName(".aarch64-1234")).toEqual({ arch: "aarch64", n: 1234 });
    for (const other of [
      ".build-20260101-000000-x86_64-1234", // a build directory whose run id ends in digits
      ".x86_64.build-lock",
      ".x86_64.staging-0a1b2c3d4e5f",
      ".x86_64-01",
      "x86_64-001",
      ".sparc-001",
    ])
      expect(parseKeptLayerName(other), other).toBeUndefined();
    expect(
      nextBackupName([".x86_64-001", ".build-20260101-000000-x86_64-9999", ".x86_64-002"], "x86_64"),
    ).toBe(".x86_64-003");
  });
});
