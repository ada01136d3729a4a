import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { packageApplies, packageAtom } from "../flavors/gentoo/spec-section.js";
import { parseSpec } from "./load.js";
import { parseVariant, pickArch, resolveLayer, variableSuffix } from "./resolve.js";

const spec = parseSpec(
  `
repository: software.eessi.io
stack: eessi
version: "2026.06"
arches: [x86_64, aarch64]
flavor: gentoo
gentoo:
  repository: {commit: 91ee4d032fd7b2cf2704f542c78ec12899016bef}
  trustedDirs: ["{prefix}/lib/override"]
  packages:
    - {name: sys-fabric/opa-psm2, version: 12.0.1, overlay: eessi, includeOn: [linux-x86_64]}
    - {name: sys-libs/pam, excludeOn: [macos-x86_64]}
hostSymlinks:
  - /etc/passwd
  - dest: "{prefix}/lib/amd"
    src: "$(EESSI_202606_AMD_OVERRIDE:-/cvmfs/{repository}/defaults/amd)"
variantSymlinks:
  hostDefaults: {amd: /dev/null}
`,
  "eessi.yaml",
).spec;

describe("resolveLayer", () => {
  it("resolves the prefix and the packages per arch", () => {
    const x = resolveLayer(spec, "x86_64");
    expect(x.prefix).toBe("/cvmfs/software.eessi.io/versions/2026.06/compat/linux/x86_64");
    expect(x.prefixInRepository).toBe("versions/2026.06/compat/linux/x86_64");
    expect(x.packageAtoms).toEqual(["=sys-fabric/opa-psm2-12.0.1::eessi", "sys-libs/pam"]);
    expect(x.trustedDirs).toEqual([
      "/cvmfs/software.eessi.io/versions/2026.06/compat/linux/x86_64/lib/override",
    ]);
    expect(resolveLayer(spec, "aarch64").packageAtoms).toEqual(["sys-libs/pam"]);
  });

  it("gives host links a plain and a variant form, also outside defaults/compat", () => {
    const links = resolveLayer(spec, "x86_64").hostLinks;
    expect(links[0]).toEqual({
      path: "etc/passwd",
      plain: "/etc/passwd",
      variant: "$(EESSI_202606_COMPAT_ETC_PASSWD:-/cvmfs/software.eessi.io/defaults/compat/etc/passwd)",
      final: "$(EESSI_202606_COMPAT_ETC_PASSWD:-/cvmfs/software.eessi.io/defaults/compat/etc/passwd)",
    });
    expect(links[1]).toMatchObject({ path: "lib/amd", plain: "/dev/null" });
  });

  it("refuses a defaults-tree target without a plain form", () => {
    const s = { ...spec, variantSymlinks: { ...spec.variantSymlinks, hostDefaults: {} } };
    expect(() => resolveLayer(s, "x86_64")).toThrow(InputError);
  });

  it("checks --arch against the spec", () => {
    expect(pickArch(spec, "aarch64")).toBe("aarch64");
    expect(() => pickArch(spec, "riscv64")).toThrow(/not one of the spec's arches/);
    expect(() => pickArch(spec, "arm64")).toThrow(
      expect.objectContaining({ hint: "did you mean --arch aarch64?" }),
    );
    expect(() => pickArch(spec, "riscv")).toThrow(expect.objectContaining({ hint: undefined }));
    expect(pickArch(spec, undefined, "x64")).toBe("x86_64");
  });
});

describe("helpers", () => {
  it("builds atoms as EESSI does", () => {
    expect(packageAtom({ name: "a/b" })).toBe("a/b");
    expect(packageAtom({ name: "a/b", overlay: "eessi" })).toBe("a/b::eessi");
    expect(packageAtom({ name: "a/b", version: "1.0" })).toBe("=a/b-1.0");
    expect(packageApplies({ name: "a/b", includeOn: ["linux-x86_64"] }, "linux-aarch64")).toBe(false);
  });

  it("parses variant expressions", () => {
    expect(parseVariant("$(A_B:-/x/y)")).toEqual({ variable: "A_B", fallback: "/x/y" });
    expect(parseVariant("$(A_B:-/x/y")).toBeUndefined();
    expect(variableSuffix("/etc/hosts.equiv")).toBe("ETC_HOSTS_EQUIV");
  });
});
