import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSpec, parseSpec } from "../spec/load.js";
import { resolveLayer } from "../spec/resolve.js";
import { DEBIAN_STAGES } from "./debian/stages.js";
import { GENTOO_STAGES } from "./gentoo/stages.js";
import { planOf } from "./index.js";

const gentooSpec = parseSpec(
  `repository: software.eessi.io
stack: eessi
version: "2026.06"
arches: [x86_64, aarch64]
flavor: gentoo
gentoo:
  repository: {commit: 91ee4d032fd7b2cf2704f542c78ec12899016bef}
  overlays:
    - {name: eessi, url: "https://github.com/EESSI/gentoo-overlay.git", eclassOverrides: true}
  sets: ["eessi-{version}-{os}-{arch}"]
  packages:
    - {name: sys-fabric/opa-psm2, version: 12.0.1, overlay: eessi, includeOn: [linux-x86_64]}
    - {name: sys-libs/pam}
  removePackages: [dev-lang/go]
  packageMask: ">=sys-devel/gcc-15"
  trustedDirs: ["{prefix}/lib/override"]
locales: ["en_US.UTF-8 UTF-8", "de_DE.UTF-8 UTF-8"]
hostSymlinks:
  - /etc/passwd
  - {dest: "{prefix}/lib/override", src: "$(EESSI_{versionTag}_LIB_OVERRIDE:-/cvmfs/{repository}/defaults/override)"}
variantSymlinks: {hostDefaults: {override: /dev/null}}
`,
  "eessi.yaml",
).spec;

describe("planLayer (gentoo)", () => {
  const plan = planOf(resolveLayer(gentooSpec, "x86_64"));

  it("resolves prefix, sets and packages for the arch", () => {
    expect(plan.prefix).toBe("/cvmfs/software.eessi.io/versions/2026.06/compat/linux/x86_64");
    expect(plan.sets).toEqual(["@eessi-2026.06-linux-x86_64"]);
    expect(plan.setSources).toEqual([
      {
        set: "@eessi-2026.06-linux-x86_64",
        from: "file",
        path: "etc/portage/sets/eessi-2026.06-linux-x86_64",
        lookIn: [
          "etc/portage/sets/eessi-2026.06-linux-x86_64",
          "var/db/repos/eessi/etc/portage/sets/eessi-2026.06-linux-x86_64",
        ],
      },
    ]);
    expect(plan.packages).toEqual(["=sys-fabric/opa-psm2-12.0.1::eessi", "sys-libs/pam"]);
    expect(plan.removePackages).toEqual(["dev-lang/go"]);
    expect(planOf(resolveLayer(gentooSpec, "aarch64")).packages).toEqual(["sys-libs/pam"]);
  });

  it("uses the flavor's stage list", () => {
    expect(plan.stages.map((s) => s.id)).toEqual(GENTOO_STAGES.map((s) => s.id));
    expect(plan.stages.map((s) => s.id).slice(0, 4)).toEqual([
      "preflight",
      "repos",
      "configure",
      "bootstrap",
    ]);
  });

  it("lists every file, sorted by path, with the locale lines to add", () => {
    expect(Object.keys(plan.files)).toEqual([
      "etc/locale.gen",
      "etc/portage/env/glibc-user-defined-trusted-dirs.conf",
      "etc/portage/package.env",
      "etc/portage/package.mask",
      "etc/portage/repos.conf/eclass-overrides.conf",
      "etc/portage/repos.conf/eessi.conf",
      "etc/portage/repos.conf/gentoo.conf",
      "var/db/repos/gentoo/.unpacked",
    ]);
    expect(plan.files["etc/locale.gen"]).toEqual({
      content: "en_US.UTF-8 UTF-8\nde_DE.UTF-8 UTF-8\n",
      mode: "0644",
      apply: "add-lines",
      from: "locales",
    });
    expect(plan.files["etc/portage/package.mask"]?.content).toBe(">=sys-devel/gcc-15\n");
  });

  it("gives each host link its plain and variant targets", () => {
    expect(plan.hostSymlinks[1]).toEqual({
      path: "lib/override",
      plain: "/dev/null",
      variant: "$(EESSI_202606_LIB_OVERRIDE:-/cvmfs/software.eessi.io/defaults/override)",
      final: "$(EESSI_202606_LIB_OVERRIDE:-/cvmfs/software.eessi.io/defaults/override)",
    });
  });

  it("warns that an overlay without a pinned commit makes the build not reproducible", () => {
    expect(plan.warnings).toEqual([
      expect.stringMatching(/^overlay eessi has no pinned commit.*not reproducible/),
    ]);
    const pinned = structuredClone(gentooSpec);
    pinned.gentoo!.overlays[0]!.commit = "ea41ecc9572555ee8c0a6f2cafff7bef08b32f01";
    expect(planOf(resolveLayer(pinned, "x86_64")).warnings).toEqual([]);
  });

  it("gives the same JSON for the same input", () => {
    const again = planOf(resolveLayer(parseSpec(JSON.stringify(gentooSpec), "same.yaml").spec, "x86_64"));
    expect(JSON.stringify(again)).toBe(JSON.stringify(plan));
  });
});

describe("planLayer (debian)", () => {
  it("plans examples/dev.yaml", async () => {
    const { spec } = await loadSpec(join(import.meta.dirname, "../../examples/dev.yaml"));
    const plan = planOf(resolveLayer(spec, "x86_64"));
    expect(plan.flavor).toBe("debian");
    expect(plan.stages.map((s) => s.id)).toEqual(DEBIAN_STAGES.map((s) => s.id));
    expect(plan.packages).toContain("lmod");
    expect(plan.sets).toEqual([]);
    expect(plan.setSources).toEqual([]);
    expect(Object.keys(plan.files)).toEqual(["etc/locale.gen"]);
    expect(plan.hostSymlinks.every((l) => l.final === l.plain)).toBe(true);
  });
});
