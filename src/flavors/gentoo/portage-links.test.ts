import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import { linkPortageConfig, planPortageLinks } from "./portage-links.js";
import { provideSets } from "./sets.js";
import { EESSI_SETS, gentooLayer, inPrefix, scratchPrefixes } from "./testdata/prefix-fixture.js";

const { prefixDir, put } = scratchPrefixes("portage-links");
const layerWith = (portageConfig: Record<string, string[]>, sets: string[] = []) =>
  gentooLayer(sets, Object.entries(portageConfig));

/** An eessi overlay checkout: its sets/ is EESSI's real one, its accept_keywords a line of the same form. */
function eessiCheckout(dir: string) {
  const portage = join(dir, "var/db/repos/eessi/etc/portage");
  mkdirSync(portage, { recursive: true });
  symlinkSync(EESSI_SETS, join(portage, "sets"));
  put(dir, "var/db/repos/eessi/etc/portage/package.accept_keywords", "sys-cluster/lmod ~amd64\n");
  put(dir, "var/db/repos/eessi/etc/portage/env/test.conf", 'FEATURES="test"\n');
}

describe("planPortageLinks", () => {
  it("lists one link per entry, overlay by overlay, relative to EPREFIX", () => {
    expect(
      planPortageLinks(layerWith({ eessi: ["package.accept_keywords", "env"], site: ["bashrc"] })),
    ).toEqual([
      {
        overlay: "eessi",
        path: "etc/portage/package.accept_keywords",
        target: "var/db/repos/eessi/etc/portage/package.accept_keywords",
      },
      { overlay: "eessi", path: "etc/portage/env", target: "var/db/repos/eessi/etc/portage/env" },
      { overlay: "site", path: "etc/portage/bashrc", target: "var/db/repos/site/etc/portage/bashrc" },
    ]);
    expect(planPortageLinks(layerWith({ eessi: [] }))).toEqual([]);
  });
});

describe("linkPortageConfig", () => {
  it("links files and directories with relative links that resolve in the prefix, and again does nothing", async () => {
    const dir = prefixDir();
    eessiCheckout(dir);
    const layer = layerWith({ eessi: ["package.accept_keywords", "env"] });
    await linkPortageConfig(inPrefix(dir), layer);
    expect(readlinkSync(join(dir, "etc/portage/package.accept_keywords"))).toBe(
      "../../var/db/repos/eessi/etc/portage/package.accept_keywords",
    );
    expect(readFileSync(join(dir, "etc/portage/package.accept_keywords"), "utf8")).toBe(
      "sys-cluster/lmod ~amd64\n",
    );
    expect(readFileSync(join(dir, "etc/portage/env/test.conf"), "utf8")).toBe('FEATURES="test"\n');
    await linkPortageConfig(inPrefix(dir), layer);
    expect(lstatSync(join(dir, "etc/portage/env")).isSymbolicLink()).toBe(true);
  });

  it("links the overlay's whole sets/ as the pre-2026 role did, and the sets stage then finds EESSI's set in place", async () => {
    const dir = prefixDir();
    eessiCheckout(dir);
    const layer = layerWith({ eessi: ["sets"] }, ["eessi-{version}-{os}-{arch}"]);
    await linkPortageConfig(inPrefix(dir), layer);
    const provided = await provideSets(inPrefix(dir), layer);
    expect(provided).toEqual([
      {
        set: "@eessi-2025.06-linux-x86_64",
        how: "in place",
        source: "etc/portage/sets/eessi-2025.06-linux-x86_64",
      },
    ]);
    expect(readFileSync(join(dir, "etc/portage/sets/eessi-2025.06-linux-x86_64"), "utf8")).toBe(
      readFileSync(join(EESSI_SETS, "eessi-2025.06-linux-x86_64"), "utf8"),
    );
  });

  it("fails naming every entry missing from the checkout, linking nothing", async () => {
    const dir = prefixDir();
    eessiCheckout(dir);
    const err = await linkPortageConfig(
      inPrefix(dir),
      layerWith({ eessi: ["package.accept_keywords", "profile", "package.use"] }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toBe("overlay Portage configuration not found: profile, package.use");
    expect((err as InputError).details).toEqual([
      "overlay eessi: no /cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64/var/db/repos/eessi/etc/portage/profile in its checkout (gentoo.overlays[].portageConfig)",
      "overlay eessi: no /cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64/var/db/repos/eessi/etc/portage/package.use in its checkout (gentoo.overlays[].portageConfig)",
    ]);
    expect(existsSync(join(dir, "etc/portage/package.accept_keywords"))).toBe(false);
  });

  it("refuses to replace a file that is not a link", async () => {
    const dir = prefixDir();
    eessiCheckout(dir);
    put(dir, "etc/portage/package.accept_keywords", "mine\n");
    await expect(
      linkPortageConfig(inPrefix(dir), layerWith({ eessi: ["package.accept_keywords"] })),
    ).rejects.toThrow(/etc\/portage\/package\.accept_keywords is in the way of the link/);
    expect(readFileSync(join(dir, "etc/portage/package.accept_keywords"), "utf8")).toBe("mine\n");
  });
});
