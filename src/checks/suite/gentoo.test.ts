import { afterEach, describe, expect, it } from "vitest";
import { contextFor, specTarget, tempDir, writeLayout } from "../../../test/helpers/prefix-layout.js";
import { renderTrustedDirsEnv } from "../../gentoo/config/portage-files.js";
import { renderGentooReposConf, renderOverlayReposConf } from "../../gentoo/config/repos-conf.js";
import { trustedDirsFromExtraEmake } from "../portage-files.js";
import { gentooRepoGit } from "./gentoo-repo-git.js";
import { expectedTrustedDirs, findConsecutive } from "./glibc-trusted-dirs.js";

let cleanup = () => {};
afterEach(() => cleanup());

const COMMIT = "083e38cef302128d595e9f9cfd029ad8f67ec2b7";
const OVERLAY_COMMIT = "ea41ecc9572aaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SPEC = `
repository: software.eessi.io
stack: eessi
version: "2025.06"
arches: [x86_64]
flavor: gentoo
gentoo:
  repository: { commit: "${COMMIT}" }
  overlays:
    - { name: eessi, url: "https://github.com/EESSI/gentoo-overlay.git", commit: "ea41ecc9572" }
  trustedDirs: ["{prefix}/lib/override", "{prefix}/lib/nvidia", "{prefix}/lib/amd"]
`;
const P = "/cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64";

/** A hand-made Gentoo Prefix: repos.conf as the spec's renderer writes it, git checkouts at given commits. */
function prefix(over: Parameters<typeof writeLayout>[1] = {}) {
  const t = tempDir();
  cleanup = t.cleanup;
  writeLayout(t.dir, {
    "var/db/pkg/sys-libs/glibc-2.41-r1/SLOT": "2.2\n",
    "etc/portage/make.conf/0100_bootstrap_prefix_make.conf": "",
    "etc/portage/repos.conf/gentoo.conf": renderGentooReposConf(P, "https://github.com/gentoo/gentoo.git"),
    "etc/portage/repos.conf/eessi.conf": renderOverlayReposConf(
      {
        name: "eessi",
        url: "https://github.com/EESSI/gentoo-overlay.git",
        syncType: "git",
        eclassOverrides: true,
      },
      P,
    ),
    "var/db/repos/gentoo/.git/HEAD": `${COMMIT}\n`,
    "var/db/repos/eessi/.git/HEAD": "ref: refs/heads/main\n",
    "var/db/repos/eessi/.git/packed-refs": `# pack-refs with: peeled fully-peeled sorted\n${OVERLAY_COMMIT} refs/heads/main\n`,
    ...over,
  });
  return contextFor(specTarget(SPEC, t.dir));
}

describe("gentoo-repo-git", () => {
  it("passes checkouts at the pinned commits (detached HEAD, and a branch in packed-refs)", async () => {
    const r = await gentooRepoGit.run(prefix());
    expect(r.status, JSON.stringify(r.evidence)).toBe("pass");
    expect(r.evidence.details).toContain(`gentoo: ${P}/var/db/repos/gentoo at ${COMMIT} (the pinned commit)`);
  });

  it("fails a Gentoo tree at another commit, naming its HEAD", async () => {
    const ctx = prefix({ "var/db/repos/gentoo/.git/HEAD": `${"1".repeat(40)}\n` });
    const r = await gentooRepoGit.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([`${P}/var/db/repos/gentoo/.git/HEAD`]);
  });

  it("fails a tree that is not a git checkout and a repos.conf with the wrong sync-type", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeLayout(t.dir, {
      "etc/portage/repos.conf/gentoo.conf": renderGentooReposConf(
        P,
        "https://github.com/gentoo/gentoo.git",
      ).replace("sync-type = git", "sync-type = rsync"),
      "var/db/repos/gentoo/metadata/timestamp": "x",
    });
    const r = await gentooRepoGit.run(contextFor(specTarget(SPEC, t.dir)));
    expect(r.status).toBe("fail");
    expect(r.evidence.found).toContain("sync-type is rsync, expected git");
    expect(r.evidence.found).toContain("not a git checkout");
    expect(r.evidence.files).toContain(`${P}/etc/portage/repos.conf/gentoo.conf`);
  });
});

describe("glibc trusted dirs", () => {
  const dirs = [`${P}/lib/override`, `${P}/lib/nvidia`, `${P}/lib/amd`];

  it("compares the env file's dirs as a list (GlibcEnvFileTest pasted the list into a regex)", () => {
    // The reference built f"user-defined-trusted-dirs={['…','…']}", a character class matching one character.
    expect(trustedDirsFromExtraEmake(renderTrustedDirsEnv(dirs))).toEqual(dirs);
    const oneOff = trustedDirsFromExtraEmake(renderTrustedDirsEnv([dirs[0]!, dirs[2]!, dirs[1]!]));
    expect(oneOff).not.toEqual(dirs);
    expect(trustedDirsFromExtraEmake('EXTRA_EMAKE="user-defined-trusted-dirs=/"')).toEqual(["/"]);
  });

  it("finds the dirs consecutively and in order among the system search path", () => {
    const sys = [`${P}/lib64`, `${P}/usr/lib64`, ...dirs];
    expect(findConsecutive(sys, dirs)).toEqual({ at: 2 });
    expect(findConsecutive([`${P}/lib64`, dirs[0]!, dirs[2]!, dirs[1]!], dirs)).toEqual({
      problem: `${dirs[1]} is in the system search path but not right after ${dirs[0]}`,
    });
    expect(findConsecutive([`${P}/lib64`], dirs)).toEqual({
      problem: `${dirs[0]} is not in the system search path`,
    });
  });

  it("handles one trusted dir as a one-element list (GlibcTrustedDirs iterated the 2023.06 string by character)", () => {
    const one = ["/cvmfs/software.eessi.io/host_injections/2023.06/compat/linux/x86_64/lib"];
    expect(findConsecutive([`${P}/lib64`, `${P}/usr/lib64`, one[0]!], one)).toEqual({ at: 2 });
    // What the reference did: "(system search path)\n".join over a string walks its characters.
    const chars = [...one[0]!];
    expect(findConsecutive([`${P}/lib64`, `${P}/usr/lib64`, one[0]!], chars)).not.toHaveProperty("at");
  });

  it("takes the expected dirs from the spec", () => {
    expect(expectedTrustedDirs(prefix())).toEqual({ dirs, from: "the spec" });
  });
});
