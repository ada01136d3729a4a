import { describe, expect, it } from "vitest";
import { assertArchRunnable } from "../exec/emulation.js";
import { parseSpec } from "../spec/load.js";
import { resolveLayer } from "../spec/resolve.js";
import { assertBuildUser } from "./common.js";
import { flavors, getFlavor } from "./index.js";
import { ACTIVATE_STAGE } from "./stage.js";

const spec = (flavor: "debian" | "gentoo") =>
  parseSpec(
    `repository: software.example.org
stack: dev
version: "2025.06"
arches: [x86_64]
flavor: ${flavor}
debian: { suite: bookworm }
gentoo: { repository: { commit: ${"a".repeat(40)} } }
`,
    "t.yaml",
  ).spec;

describe("flavor registry", () => {
  it.each(["debian", "gentoo"] as const)(
    "%s: its build runs the stages `compat plan` lists, in order",
    (id) => {
      const layer = resolveLayer(spec(id), "x86_64");
      const f = getFlavor(id);
      expect(f.id).toBe(id);
      expect(f.displayName.length).toBeGreaterThan(0);
      expect(f.urls.every((u) => u.startsWith("https://"))).toBe(true);
      // the pipeline appends the activate stage itself
      expect([...f.api.plan(layer).map((s) => s.id), ACTIVATE_STAGE.id]).toEqual(
        f.planPart.stages.map((s) => s.id),
      );
      expect(f.api.plan(layer).map((s) => s.description)).toEqual(
        f.planPart.stages.slice(0, -1).map((s) => s.description),
      );
    },
  );

  it("debian: an update takes package names and apt's name=version, and refuses anything else", () => {
    const layer = resolveLayer(spec("debian"), "x86_64");
    const update = (packages: string[]) => getFlavor("debian").api.update(layer, { packages });
    expect(() => update(["libssl3", "openssl=3.0.15-1~deb12u1", "tzdata=2024a-0+deb12u1"])).not.toThrow();
    for (const bad of ["-oAPT::X=1", "libssl3 openssl", "../x", "Libssl3", "libssl3=", "a=$(id)", "x\n"])
      expect(() => update([bad]), bad).toThrow(/not a Debian package name/);
  });

  it("guards the arch: the host's CPU family, or one it emulates (exec/emulation.test.ts)", () => {
    const nowhere = { binfmtDir: "/nonexistent/binfmt_misc" };
    expect(() => assertArchRunnable("x86_64", { ...nowhere, hostArch: "x64" })).not.toThrow();
    expect(() => assertArchRunnable("aarch64", { ...nowhere, hostArch: "arm64" })).not.toThrow();
    expect(() => assertArchRunnable("aarch64", { ...nowhere, hostArch: "x64" })).toThrow(
      /cannot run aarch64 programs here: this machine is x86_64 .* binfmt_misc is not mounted/,
    );
  });

  it("builds a debian layer as root only; a gentoo one as anyone", () => {
    expect(() => assertBuildUser(getFlavor("debian"), 0)).not.toThrow();
    expect(() => assertBuildUser(getFlavor("debian"), 1000)).toThrow(/the debian flavor builds as root/);
    expect(() => assertBuildUser(getFlavor("gentoo"), 1000)).not.toThrow();
  });

  it("refuses an unknown flavor, listing the known ones", () => {
    expect(() => getFlavor("nix")).toThrow(/unknown flavor nix/);
    expect([...flavors.keys()].sort()).toEqual(["debian", "gentoo"]);
  });
});
