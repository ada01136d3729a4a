import { afterEach, describe, expect, it } from "vitest";
import { bareTarget, contextFor, tempDir, writeLayout } from "../../../test/helpers/prefix-layout.js";
import { danglingSymlinks } from "./symlinks.js";
import { variantSymlinks } from "./variant-symlinks.js";

const P = "/cvmfs/software.example.org/versions/2025.06/compat/linux/x86_64";
let cleanup = () => {};
afterEach(() => cleanup());

/** A layout seen at the real prefix P (as the sandbox shows it), its files in a temp dir. */
function layout(l: Parameters<typeof writeLayout>[1], hostLinks: string[] = []) {
  const t = tempDir();
  cleanup = t.cleanup;
  writeLayout(t.dir, { "usr/lib64/ld-linux-x86-64.so.2": "x", "usr/bin/bash": "x", ...l });
  return contextFor(
    bareTarget(t.dir, {
      prefix: P,
      hostLinks: hostLinks.map((p) => ({ path: p.slice(1), plain: p, final: p })),
    }),
  );
}

describe("symlinks", () => {
  it("follows absolute links into the prefix even when the layer is not at its real path", async () => {
    const ctx = layout(
      {
        lib64: { link: "usr/lib64" },
        "usr/bin/sh": { link: `${P}/usr/bin/bash` },
        "usr/lib/ld.so": { link: `${P}/lib64/ld-linux-x86-64.so.2` },
        "var/run": { link: "/run" },
        "etc/passwd": { link: "/etc/passwd" },
      },
      ["/etc/passwd"],
    );
    const r = await danglingSymlinks.run(ctx);
    expect(r.status, JSON.stringify(r.evidence)).toBe("pass");
    expect(r.evidence.found).toContain("1 intended host links");
    expect(r.evidence.found).toContain("1 into the running system");
  });

  it("does not follow links into /proc to wherever they lead on the host", async () => {
    // /proc/self/cwd resolves to the test's working directory, a host path
    const ctx = layout({ "dev/cwd": { link: "/proc/self/cwd" }, "dev/stderr": { link: "/proc/self/fd/2" } });
    const r = await danglingSymlinks.run(ctx);
    expect(r.status, JSON.stringify(r.evidence)).toBe("pass");
    expect(r.evidence.found).toContain("2 into the running system");
  });

  it("fails a dangling link and names it", async () => {
    const ctx = layout({ "usr/lib/libz.so": { link: "libz.so.1" } });
    const r = await danglingSymlinks.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([`${P}/usr/lib/libz.so`]);
    expect(r.evidence.details![0]).toContain(`${P}/usr/lib/libz.so.1 does not exist`);
  });

  it("fails a link through a missing directory and a link loop", async () => {
    const ctx = layout({ "a/x": { link: "../missing/y" }, "b/l1": { link: "l2" }, "b/l2": { link: "l1" } });
    const r = await danglingSymlinks.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([`${P}/a/x`, `${P}/b/l1`, `${P}/b/l2`]);
    expect(r.evidence.details!.join("\n")).toContain("too many levels of symlinks");
  });

  it("fails a link to a host file that is not an intended host link", async () => {
    const ctx = layout({ "etc/os-release": { link: "/etc/hostname" } });
    const r = await danglingSymlinks.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([`${P}/etc/os-release`]);
  });

  it("knows a host link under a linked directory and a link that reaches a host link", async () => {
    const ctx = layout(
      {
        lib64: { link: "usr/lib64" },
        "usr/lib64/libnss_centrifydc.so.2": { link: "/lib64/libnss_centrifydc.so.2" },
        "etc/localtime": { link: "/etc/localtime" },
        "usr/share/zoneinfo/localtime": { link: `${P}/etc/localtime` },
      },
      ["/lib64/libnss_centrifydc.so.2", "/etc/localtime"],
    );
    const r = await danglingSymlinks.run(ctx);
    expect(r.status, JSON.stringify(r.evidence)).toBe("pass");
    expect(r.evidence.found).toContain("2 intended host links");
  });

  it("does not judge an intended host link whose host file is absent (host-symlinks does)", async () => {
    const ctx = layout({ "lib64/libnss_centrifydc.so.2": { link: "/lib64/libnss_centrifydc.so.2" } }, [
      "/lib64/libnss_centrifydc.so.2",
    ]);
    expect((await danglingSymlinks.run(ctx)).status).toBe("pass");
  });
});

describe("variant-symlinks", () => {
  it("skips a layer without variant symlinks", async () => {
    expect((await variantSymlinks.run(layout({}))).status).toBe("skip");
  });

  it("passes well-formed variant links", async () => {
    const ctx = layout({
      "etc/passwd": {
        link: "$(DEV_202506_COMPAT_ETC_PASSWD:-/cvmfs/software.example.org/defaults/compat/etc/passwd)",
      },
    });
    expect((await variantSymlinks.run(ctx)).status).toBe("pass");
  });

  it("fails the link EESSI's variant-to-plain conversion leaves for lib/amd (reference §9.3)", async () => {
    // split(':-/cvmfs/<repo>/defaults/compat') | last | trim(')') does nothing to a defaults/amd link but drop its ')'.
    const broken = "$(EESSI_202606_AMD_OVERRIDE:-/cvmfs/software.eessi.io/defaults/amd";
    const ctx = layout({ "lib/amd": { link: broken } });
    const r = await variantSymlinks.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([`${P}/lib/amd`]);
  });
});
