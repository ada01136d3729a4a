import { describe, expect, it } from "vitest";
import { parseSpec } from "../../spec/load.js";
import { resolveLayer } from "../../spec/resolve.js";
import type { GentooSettings, Overlay } from "../../spec/schema.js";
import { ensureLine, gentooConfigFiles, portageConfigFiles } from "./index.js";
import { renderEclassOverridesConf, renderOverlayReposConf } from "./repos-conf.js";

const overlay = (o: Partial<Overlay>): Overlay => ({
  name: "eessi",
  url: "https://github.com/EESSI/gentoo-overlay.git",
  syncType: "git",
  eclassOverrides: false,
  portageConfig: [],
  ...o,
});

const minimalGentoo = `repository: software.example.org
stack: t
version: "1"
arches: [x86_64]
flavor: gentoo
gentoo: {repository: {commit: 91ee4d032fd7b2cf2704f542c78ec12899016bef}}
`;

const gentoo = (g: Partial<GentooSettings>): GentooSettings => ({
  ...parseSpec(minimalGentoo, "t.yaml").spec.gentoo!,
  ...g,
});

describe("repos.conf", () => {
  it("renders an overlay as the role's template does", () => {
    expect(renderOverlayReposConf(overlay({}), "/P")).toBe(
      "# Ansible managed\n[eessi]\nlocation = /P/var/db/repos/eessi\nsync-type = git\nsync-uri = https://github.com/EESSI/gentoo-overlay.git\nauto-sync = no\n",
    );
    expect(renderOverlayReposConf(overlay({ branch: "main", autoSync: false }), "/P")).toContain(
      "sync-git-clone-extra-opts = --branch main\nauto-sync = False\n",
    );
    expect(renderOverlayReposConf(overlay({ autoSync: true }), "/P")).toMatch(/auto-sync = True\n$/);
    expect(renderOverlayReposConf(overlay({ syncType: "rsync" }), "/P")).toMatch(/auto-sync = yes\n$/);
  });

  it("lists only the overlays that override eclasses", () => {
    expect(
      renderEclassOverridesConf([
        overlay({ eclassOverrides: true }),
        overlay({ name: "b" }),
        overlay({ name: "c", eclassOverrides: true }),
      ]),
    ).toBe("[DEFAULT]\neclass-overrides = eessi c\n");
    expect(renderEclassOverridesConf([overlay({})])).toBeUndefined();
  });
});

describe("etc/portage files", () => {
  it("names package.accept_keywords right (the role writes `package.accept_keywords }}`)", () => {
    const files = portageConfigFiles(gentoo({ packageAcceptKeywords: "sys-cluster/lmod ~amd64" }), []);
    expect(files).toEqual([
      {
        path: "etc/portage/package.accept_keywords",
        content: "sys-cluster/lmod ~amd64\n",
        from: "gentoo.packageAcceptKeywords",
      },
    ]);
  });

  it("skips empty contents as the role does", () => {
    expect(portageConfigFiles(gentoo({ packageMask: "", makeConf: { a: "" } }), [])).toEqual([]);
  });

  it("adds the trusted-dirs env file and its package.env line", () => {
    const withEnv = portageConfigFiles(gentoo({ packageEnvFiles: { "package.env": "a/b test.conf" } }), [
      "/x/lib/override",
      "/x/lib/nvidia",
    ]);
    expect(Object.fromEntries(withEnv.map((f) => [f.path, f.content]))).toEqual({
      "etc/portage/package.env": "a/b test.conf\nsys-libs/glibc glibc-user-defined-trusted-dirs.conf\n",
      "etc/portage/env/glibc-user-defined-trusted-dirs.conf":
        'EXTRA_EMAKE="user-defined-trusted-dirs=/x/lib/override:/x/lib/nvidia"\n',
    });
    const alone = portageConfigFiles(gentoo({}), ["/x"]);
    expect(alone.find((f) => f.path === "etc/portage/package.env")?.content).toBe(
      "sys-libs/glibc glibc-user-defined-trusted-dirs.conf\n",
    );
  });

  it("adds a line like lineinfile: only when no line equals it", () => {
    expect(ensureLine("a\nb\n", "b")).toBe("a\nb\n");
    expect(ensureLine("a\nbb", "b")).toBe("a\nbb\nb\n");
    expect(ensureLine("", "b")).toBe("b\n");
  });

  it("writes gentoo.conf with the pinned tree and the .unpacked marker", () => {
    const spec = parseSpec(
      `repository: software.example.org
stack: t
version: "1"
arches: [x86_64]
flavor: gentoo
gentoo: {repository: {commit: 91ee4d032fd7b2cf2704f542c78ec12899016bef, url: "https://example.org/g.git"}}
`,
      "t.yaml",
    ).spec;
    const files = gentooConfigFiles(resolveLayer(spec, "x86_64"));
    expect(files.map((f) => f.path)).toEqual([
      "etc/portage/repos.conf/gentoo.conf",
      "var/db/repos/gentoo/.unpacked",
    ]);
    expect(files[0]!.content).toContain(
      "location  = /cvmfs/software.example.org/versions/1/compat/linux/x86_64/var/db/repos/gentoo\nsync-uri  = https://example.org/g.git\n",
    );
    expect(files[1]!.content).toBe("");
  });
});
