import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import { planSetSources, provideSets, setsConfSections } from "./sets.js";
import { EESSI_SETS, gentooLayer, inPrefix, scratchPrefixes } from "./testdata/prefix-fixture.js";

const { prefixDir, put } = scratchPrefixes("sets");
const layerWith = (sets: string[], overlays = ["eessi", "site"]) => gentooLayer(sets, overlays);

/** EESSI's real set file (from its gentoo-overlay) in an overlay checkout of the prefix. */
function putEessiSet(dir: string, overlay: string, name: string) {
  put(dir, `var/db/repos/${overlay}/etc/portage/sets/${name}`, readFileSync(join(EESSI_SETS, name), "utf8"));
}

describe("planSetSources", () => {
  it("says where each set comes from: Portage's own, or a set file looked for in etc/portage/sets and each overlay", () => {
    const layer = layerWith(["eessi-{version}-{os}-{arch}", "world"]);
    expect(planSetSources(layer)).toEqual([
      {
        set: "@eessi-2025.06-linux-x86_64",
        from: "file",
        path: "etc/portage/sets/eessi-2025.06-linux-x86_64",
        lookIn: [
          "etc/portage/sets/eessi-2025.06-linux-x86_64",
          "var/db/repos/eessi/etc/portage/sets/eessi-2025.06-linux-x86_64",
          "var/db/repos/site/etc/portage/sets/eessi-2025.06-linux-x86_64",
        ],
      },
      { set: "@world", from: "portage" },
    ]);
  });
});

describe("setsConfSections", () => {
  it("takes the sections that define one set, not the multiset families", () => {
    const text =
      "[world]\nclass = x\n\n[usersets]\nclass = StaticFileSet\nmultiset = true\n[my-tools]\nclass = y\n";
    expect(setsConfSections(text)).toEqual(["world", "my-tools"]);
    expect(setsConfSections("")).toEqual([]);
  });
});

describe("provideSets", () => {
  it("links an overlay's set file into etc/portage/sets/ with a relative link, and again does nothing", async () => {
    const dir = prefixDir();
    const layer = layerWith(["eessi-{version}-{os}-{arch}"]);
    putEessiSet(dir, "eessi", "eessi-2025.06-linux-x86_64");
    expect(await provideSets(inPrefix(dir), layer)).toEqual([
      {
        set: "@eessi-2025.06-linux-x86_64",
        how: "linked",
        source: "var/db/repos/eessi/etc/portage/sets/eessi-2025.06-linux-x86_64",
        path: "etc/portage/sets/eessi-2025.06-linux-x86_64",
      },
    ]);
    const link = join(dir, "etc/portage/sets/eessi-2025.06-linux-x86_64");
    expect(readlinkSync(link)).toBe(
      "../../../var/db/repos/eessi/etc/portage/sets/eessi-2025.06-linux-x86_64",
    );
    expect(readFileSync(link, "utf8")).toContain("=sys-apps/archspec-0.2.5::eessi\n");
    // rerun (a resumed stage): the same link, still a link
    await provideSets(inPrefix(dir), layer);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it("takes the first overlay that has the set, replacing a stale link", async () => {
    const dir = prefixDir();
    const layer = layerWith(["eessi-2023.06-linux-x86_64"], ["site", "eessi"]);
    putEessiSet(dir, "eessi", "eessi-2023.06-linux-x86_64");
    mkdirSync(join(dir, "etc/portage/sets"), { recursive: true });
    symlinkSync("../../../var/db/repos/gone/x", join(dir, "etc/portage/sets/eessi-2023.06-linux-x86_64"));
    const [p] = await provideSets(inPrefix(dir), layer);
    expect(p?.source).toBe("var/db/repos/eessi/etc/portage/sets/eessi-2023.06-linux-x86_64");
    expect(readlinkSync(join(dir, "etc/portage/sets/eessi-2023.06-linux-x86_64"))).toBe(
      "../../../var/db/repos/eessi/etc/portage/sets/eessi-2023.06-linux-x86_64",
    );
  });

  it("leaves a set file already in etc/portage/sets/ (also through a linked directory) as it is", async () => {
    const dir = prefixDir();
    put(dir, "etc/portage/sets/site-tools", "app-editors/vim\n");
    putEessiSet(dir, "eessi", "eessi-2025.06-linux-aarch64");
    const layer = layerWith(["site-tools", "eessi-2025.06-linux-aarch64"]);
    // a pre-2026 layer: etc/portage/sets is the role's link to the overlay's directory
    const old = prefixDir();
    putEessiSet(old, "eessi", "eessi-2025.06-linux-aarch64");
    mkdirSync(join(old, "etc/portage"), { recursive: true });
    symlinkSync("../../var/db/repos/eessi/etc/portage/sets", join(old, "etc/portage/sets"));
    const fromOld = await provideSets(inPrefix(old), layerWith(["eessi-2025.06-linux-aarch64"]));
    expect(fromOld).toEqual([
      {
        set: "@eessi-2025.06-linux-aarch64",
        how: "in place",
        source: "etc/portage/sets/eessi-2025.06-linux-aarch64",
      },
    ]);
    const provided = await provideSets(inPrefix(dir), layer);
    expect(provided.map((p) => p.how)).toEqual(["in place", "linked"]);
    expect(lstatSync(join(dir, "etc/portage/sets/site-tools")).isFile()).toBe(true);
  });

  it("accepts Portage's own sets and sets defined in a sets.conf", async () => {
    const dir = prefixDir();
    put(
      dir,
      "usr/share/portage/config/sets/portage.conf",
      "[world]\nclass = a\n[golang-rebuild]\nclass = b\n",
    );
    put(dir, "var/db/repos/site/sets.conf", "[site-python]\nclass = portage.sets.dbapi.VariableSet\n");
    const provided = await provideSets(inPrefix(dir), layerWith(["system", "golang-rebuild", "site-python"]));
    expect(provided).toEqual([
      { set: "@system", how: "portage" },
      { set: "@golang-rebuild", how: "sets.conf", source: "usr/share/portage/config/sets/portage.conf" },
      { set: "@site-python", how: "sets.conf", source: "var/db/repos/site/sets.conf" },
    ]);
    expect(existsSync(join(dir, "etc/portage/sets"))).toBe(false);
  });

  it("fails naming every set found nowhere and each place it looked, linking nothing", async () => {
    const dir = prefixDir();
    const layer = layerWith(["eessi-2026.06-linux-x86_64", "eessi-2025.06-linux-x86_64", "typo-set"]);
    putEessiSet(dir, "eessi", "eessi-2025.06-linux-x86_64");
    const err = (await provideSets(inPrefix(dir), layer).catch((e: unknown) => e)) as InputError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe("package sets @eessi-2026.06-linux-x86_64, @typo-set not found");
    const p = layer.prefix;
    expect(err.details).toEqual([
      `@eessi-2026.06-linux-x86_64: no file ${p}/etc/portage/sets/eessi-2026.06-linux-x86_64, ${p}/var/db/repos/eessi/etc/portage/sets/eessi-2026.06-linux-x86_64, ${p}/var/db/repos/site/etc/portage/sets/eessi-2026.06-linux-x86_64, and no section [eessi-2026.06-linux-x86_64] in a sets.conf`,
      `@typo-set: no file ${p}/etc/portage/sets/typo-set, ${p}/var/db/repos/eessi/etc/portage/sets/typo-set, ${p}/var/db/repos/site/etc/portage/sets/typo-set, and no section [typo-set] in a sets.conf`,
    ]);
    expect(err.hint).toMatch(/gentoo\.sets/);
    expect(existsSync(join(dir, "etc/portage/sets"))).toBe(false);
  });

  it("refuses to put a link where a directory is", async () => {
    const dir = prefixDir();
    putEessiSet(dir, "eessi", "eessi-2025.06-linux-x86_64");
    mkdirSync(join(dir, "etc/portage/sets/eessi-2025.06-linux-x86_64"), { recursive: true });
    await expect(provideSets(inPrefix(dir), layerWith(["eessi-2025.06-linux-x86_64"]))).rejects.toThrow(
      /etc\/portage\/sets\/eessi-2025\.06-linux-x86_64 is in the way/,
    );
  });
});
