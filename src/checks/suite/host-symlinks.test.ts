import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import {
  bareTarget,
  contextFor,
  specTarget,
  tempDir,
  writeLayout,
} from "../../../test/helpers/prefix-layout.js";
import { hostSymlinks } from "./host-symlinks.js";

let cleanup = () => {};
afterEach(() => cleanup());

/** A 2026.06-like spec: host links as strings, variant links enabled (reference/compat-layer.md §5). */
const SPEC = `
repository: software.eessi.io
stack: eessi
version: "2026.06"
arches: [x86_64]
flavor: gentoo
gentoo:
  repository: { commit: "91ee4d03c9a1b8d3f0f0e8e8a1f0d9b1c2d3e4f5" }
hostSymlinks: [/etc/group, /etc/passwd]
`;
const GROUP_VARIANT = "$(EESSI_202606_COMPAT_ETC_GROUP:-/cvmfs/software.eessi.io/defaults/compat/etc/group)";
const PASSWD_VARIANT =
  "$(EESSI_202606_COMPAT_ETC_PASSWD:-/cvmfs/software.eessi.io/defaults/compat/etc/passwd)";

function layout(l: Parameters<typeof writeLayout>[1]) {
  const t = tempDir();
  cleanup = t.cleanup;
  writeLayout(t.dir, { "etc/portage/make.conf": "", ...l });
  return contextFor(specTarget(SPEC, t.dir));
}

describe("host-symlinks", () => {
  it("passes a finished 2026.06-style layer with variant links (EESSI's check could never pass it)", async () => {
    const ctx = layout({ "etc/group": { link: GROUP_VARIANT }, "etc/passwd": { link: PASSWD_VARIANT } });
    const r = await hostSymlinks.run(ctx);
    expect(r.status).toBe("pass");
    // The reference's assertion: `readlink | sed 's/\$(.*):-//'` must print exactly /etc/group. The sed was
    // written for the old `$(VAR):-/etc/group` form and leaves the current form untouched.
    const sed = execFileSync("sed", ["s/\\$(.*):-//"], { input: `${GROUP_VARIANT}\n` })
      .toString()
      .trim();
    expect(sed).toBe(GROUP_VARIANT);
    expect(sed).not.toBe("/etc/group");
  });

  it("passes the plain links a build has before its final stage", async () => {
    const ctx = layout({ "etc/group": { link: "/etc/group" }, "etc/passwd": { link: "/etc/passwd" } });
    expect((await hostSymlinks.run(ctx)).status).toBe("pass");
  });

  it("passes what a CVMFS client shows: the variant expanded to its default", async () => {
    const ctx = layout({
      "etc/group": { link: "/cvmfs/software.eessi.io/defaults/compat/etc/group" },
      "etc/passwd": { link: "/etc/passwd" },
    });
    expect((await hostSymlinks.run(ctx)).status).toBe("pass");
  });

  it("fails a wrong target, a variant with another variable, and a file instead of a link, naming each", async () => {
    const ctx = layout({
      "etc/group": {
        link: "$(EESSI_202506_COMPAT_ETC_GROUP:-/cvmfs/software.eessi.io/defaults/compat/etc/group)",
      },
      "etc/passwd": "root:x:0:0::/root:/bin/bash\n",
    });
    const r = await hostSymlinks.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([ctx.fs.abs("etc/group"), ctx.fs.abs("etc/passwd")]);
    expect(r.evidence.details!.join("\n")).toContain("etc/passwd is a file, not a symlink");
  });

  it("on a bare prefix, accepts any well-formed variant whose default is the host path's defaults entry", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeLayout(t.dir, {
      "etc/group": { link: GROUP_VARIANT },
      "etc/passwd": { link: "/etc/shadow" },
    });
    const links = ["/etc/group", "/etc/passwd"].map((p) => ({ path: p.slice(1), plain: p, final: p }));
    const r = await hostSymlinks.run(contextFor(bareTarget(t.dir, { hostLinks: links })));
    expect(r.status).toBe("fail");
    expect(r.evidence.details).toEqual(["etc/passwd -> /etc/shadow; expected -> /etc/passwd"]);
  });
});
