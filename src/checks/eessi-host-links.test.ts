import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { contextFor, tempDir, writeLayout } from "../../test/helpers/prefix-layout.js";
import { SHARED_DATA } from "../../test/helpers/shared-data.js";
import { EESSI_HOST_LINK_VERSIONS, eessiHostLinks } from "./eessi-host-links.js";
import { targetFromPrefix } from "./prefix-target.js";
import { hostSymlinks } from "./suite/host-symlinks.js";
import { danglingSymlinks } from "./suite/symlinks.js";

let cleanup = () => {};
afterEach(() => cleanup());

/** The link paths (relative to EPREFIX) of `symlinks_to_host` in EESSI's vars file of a version. */
function varsFileLinks(version: string): string[] {
  const vars = parse(readFileSync(`${SHARED_DATA}eessi/compatibility-layer/vars_${version}.yml`, "utf8")) as {
    symlinks_to_host: (string | { dest: string; src: string })[];
  };
  return vars.symlinks_to_host.map((e) =>
    typeof e === "string" ? e.slice(1) : e.dest.replace("{{ gentoo_prefix_path }}/", ""),
  );
}

describe("EESSI's host links for a prefix without a spec", () => {
  it.each(EESSI_HOST_LINK_VERSIONS)("are those of EESSI's vars/%s.yml", (version) => {
    const ours = eessiHostLinks(version, `/cvmfs/software.eessi.io/versions/${version}/compat/linux/x86_64`);
    expect(ours.links.map((l) => l.path).sort()).toEqual(varsFileLinks(version).sort());
    expect(ours.from).toContain(`vars/${version}.yml`);
  });

  it("include /etc/localtime, which 2023.06, 2025.06 and examples/dev.yaml link", () => {
    for (const v of ["2023.06", "2025.06"])
      expect(eessiHostLinks(v, "/x").links.map((l) => l.plain)).toContain("/etc/localtime");
    const dev = parse(readFileSync(new URL("../../examples/dev.yaml", import.meta.url), "utf8")) as {
      hostSymlinks: string[];
    };
    expect(
      eessiHostLinks("2025.06", "/x")
        .links.map((l) => l.plain)
        .sort(),
    ).toEqual([...dev.hostSymlinks].sort());
  });

  it("give 2026.06's trusted dirs their exact variant, from the repository in the prefix", () => {
    const amd = eessiHostLinks(
      "2026.06",
      "/cvmfs/software.eessi.io/versions/2026.06/compat/linux/x86_64",
    ).links.find((l) => l.path === "lib/amd");
    expect(amd?.variant).toBe("$(EESSI_202606_AMD_OVERRIDE:-/cvmfs/software.eessi.io/defaults/amd)");
  });

  it("fall back to 2025.06's list for another version, and say so", () => {
    const other = eessiHostLinks("2024.01", "/x");
    expect(other.links.map((l) => l.path)).toContain("etc/localtime");
    expect(other.from).toMatch(/2025\.06.*2024\.01 has no EESSI vars file/);
  });

  it("pass a bare debian layer linking what dev.yaml links (host-symlinks and symlinks)", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const P = "/cvmfs/software.example.org/versions/2025.06/compat/linux/x86_64";
    const links = Object.fromEntries(
      ["/etc/group", "/etc/passwd", "/etc/hosts", "/etc/resolv.conf", "/etc/localtime"].map((p) => [
        p.slice(1),
        { link: p },
      ]),
    );
    writeLayout(t.dir, {
      startprefix: { file: `#!${P}/bin/bash\nEPREFIX="${P}"\n`, mode: 0o755 },
      "var/lib/dpkg/status": "",
      "usr/lib64/ld-linux-x86-64.so.2": "x",
      lib64: { link: "usr/lib64" },
      "usr/lib64/libnss_centrifydc.so.2": { link: "/lib64/libnss_centrifydc.so.2" },
      "usr/share/zoneinfo/localtime": { link: `${P}/etc/localtime` },
      ...links,
    });
    const ctx = contextFor(await targetFromPrefix(t.dir));
    const host = await hostSymlinks.run(ctx);
    expect(host.status, JSON.stringify(host.evidence)).toBe("pass");
    expect(host.evidence.expected).toContain("vars/2025.06.yml");
    const all = await danglingSymlinks.run(ctx);
    expect(all.status, JSON.stringify(all.evidence)).toBe("pass");
  });
});
