import { describe, expect, it } from "vitest";
import { gentooTools } from "../flavors/gentoo/check-defaults.js";
import { describeVersions, versionApplies } from "./versions.js";

describe("versions", () => {
  it("describes and applies all, only and except", () => {
    expect(describeVersions("all")).toBe("all");
    expect(describeVersions({ only: ["2023.06", "2025.06"] })).toBe("2023.06 and 2025.06");
    expect(describeVersions({ except: ["2021.03"] })).toBe("all but 2021.03");
    expect(versionApplies({ only: ["2023.06"] }, "2023.06")).toBe(true);
    expect(versionApplies({ only: ["2023.06"] }, "2025.06")).toBe(false);
    expect(versionApplies({ except: ["2021.03"] }, "2021.03")).toBe(false);
    expect(versionApplies({ except: ["2021.03"] }, undefined)).toBe(true);
    expect(versionApplies({ only: ["2023.06"] }, undefined)).toBe(false);
  });

  it("gives EESSI's tool list per version (ld.gold only on 2023.06, no patchelf on 2021.03)", () => {
    const of2023 = ["archspec", "emerge", "equery", "ld.bfd", "make", "patch", "ld.gold", "patchelf"];
    expect(gentooTools("2023.06")).toEqual(of2023);
    expect(gentooTools("2025.06")).toEqual(of2023.filter((t) => t !== "ld.gold"));
    expect(gentooTools("2021.03")).toEqual(of2023.filter((t) => t !== "ld.gold" && t !== "patchelf"));
    expect(gentooTools(undefined)).toEqual(gentooTools("2025.06"));
  });
});
