import { afterEach, describe, expect, it } from "vitest";
import {
  bareTarget,
  contextFor,
  specTarget,
  tempDir,
  writeLayout,
} from "../../../test/helpers/prefix-layout.js";
import { renderTrustedDirsEnv, TRUSTED_DIRS_PACKAGE_ENV_LINE } from "../../gentoo/config/portage-files.js";
import { glibcEnvFile } from "./glibc-env-file.js";
import { reprodRecord } from "./reprod-record.js";
import { atomInstalled, setInstalled } from "./set-installed.js";

let cleanup = () => {};
afterEach(() => cleanup());

const P = "/cvmfs/software.eessi.io/versions/2025.06/compat/linux/x86_64";
const TRUSTED = [`${P}/lib/override`, `${P}/lib/nvidia`, `${P}/lib/amd`];
const SPEC = `
repository: software.eessi.io
stack: eessi
version: "2025.06"
arches: [x86_64]
flavor: gentoo
gentoo:
  repository: { commit: "083e38cef302128d595e9f9cfd029ad8f67ec2b7" }
  sets: ["eessi-{version}-{os}-{arch}"]
  packages:
    - { name: sys-cluster/modules, version: "5.6.1", overlay: eessi }
  trustedDirs: ["{prefix}/lib/override", "{prefix}/lib/nvidia", "{prefix}/lib/amd"]
`;

/** A vdb entry: SLOT and repository files under var/db/pkg/<cpv>. */
const entry = (cpv: string, slot = "0", repo = "gentoo") => ({
  [`var/db/pkg/${cpv}/SLOT`]: `${slot}\n`,
  [`var/db/pkg/${cpv}/repository`]: `${repo}\n`,
});

/** A hand-made Gentoo Prefix: sets, vardb, env files, a reprod record. */
function gentooPrefix(over: Parameters<typeof writeLayout>[1] = {}) {
  const t = tempDir();
  cleanup = t.cleanup;
  writeLayout(t.dir, {
    "etc/portage/sets/eessi-2025.06-linux-x86_64":
      "# EESSI 2025.06\n=sys-apps/archspec-0.2.5::eessi\ndev-python/pip\n@eessi-base\n",
    "etc/portage/sets/eessi-base": "sys-libs/pam\nsys-process/numactl:0\n",
    ...entry("sys-apps/archspec-0.2.5", "0", "eessi"),
    ...entry("dev-python/pip-25.1.1"),
    ...entry("sys-libs/pam-1.7.0_p20241230"),
    ...entry("sys-process/numactl-2.0.18"),
    ...entry("sys-cluster/modules-5.6.1", "0", "eessi"),
    ...entry("sys-libs/glibc-2.41-r4", "2.2"),
    "var/db/pkg/sys-libs/glibc-2.41-r4/EXTRA_EMAKE": `user-defined-trusted-dirs=${TRUSTED.join(":")}\n`,
    "etc/portage/env/glibc-user-defined-trusted-dirs.conf": renderTrustedDirsEnv(TRUSTED),
    "etc/portage/package.env": `dev-util/direnv test.conf\n${TRUSTED_DIRS_PACKAGE_ENV_LINE}\n`,
    "reprod/20250701_120000UTC/build.json": '{"gentoo_git_commit":"083e38ce"}\n',
    "reprod/20250701_120000UTC/packages.txt": [
      "dev-python/pip-25.1.1::gentoo",
      "sys-apps/archspec-0.2.5::eessi",
      "sys-cluster/modules-5.6.1::eessi",
      "sys-libs/glibc-2.41-r4::gentoo",
      "sys-libs/pam-1.7.0_p20241230::gentoo",
      "sys-process/numactl-2.0.18::gentoo",
      "",
    ].join("\n"),
    ...over,
  });
  return { dir: t.dir, ctx: contextFor(specTarget(SPEC, t.dir)) };
}

describe("set-installed", () => {
  it("passes when every atom of the set, its nested set and the spec's packages is installed", async () => {
    const r = await setInstalled.run(gentooPrefix().ctx);
    expect(r.status, JSON.stringify(r.evidence)).toBe("pass");
    expect(r.evidence.found).toBe("5 atoms, all installed");
  });

  it("fails an atom of the set that is not installed, naming the set file and the atom", async () => {
    const { ctx, dir } = gentooPrefix();
    const { rmSync } = await import("node:fs");
    rmSync(`${dir}/var/db/pkg/sys-process`, { recursive: true });
    const r = await setInstalled.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([`${P}/etc/portage/sets/eessi-base`]);
    expect(r.evidence.details![0]).toBe(
      `sys-process/numactl:0 (${P}/etc/portage/sets/eessi-base:2): not installed`,
    );
  });

  it("matches versions as Portage does, not as a regex (EESSI's check passed 0.2.1 for 0.2.10)", () => {
    const installed = [
      { cpv: "sys-apps/archspec-0.2.10", cp: "sys-apps/archspec", repo: "eessi", slot: "0", subSlot: "0" },
    ];
    const pkgs = installed.map((p) => ({
      ...p,
      category: "sys-apps",
      name: "archspec",
      version: "0.2.10",
      source: "",
      contents: () => [],
    }));
    // The reference: re.search("sys-apps/archspec-0.2.1::eessi", qlist output) matches "…-0.2.10::eessi"? No, but
    // without ::repo it does, and "." matches any character: "=sys-apps/archspec-0.2.1" → "archspec-0.2.1" ⊂ "archspec-0.2.10".
    expect(/sys-apps\/archspec-0.2.1/.test("sys-apps/archspec-0.2.10::eessi")).toBe(true);
    expect(atomInstalled("=sys-apps/archspec-0.2.1", pkgs)).toMatchObject({
      ok: false,
      reason: "not installed (installed: sys-apps/archspec-0.2.10::eessi)",
    });
    expect(atomInstalled("=sys-apps/archspec-0.2.10::eessi", pkgs).ok).toBe(true);
    expect(atomInstalled("=sys-apps/archspec-0.2.10::gentoo", pkgs).ok).toBe(false);
    expect(atomInstalled("sys-apps/archspec:1", pkgs).ok).toBe(false);
    expect(atomInstalled("not an atom", pkgs)).toMatchObject({ ok: false });
  });

  it("fails a set file that is missing", async () => {
    const { ctx, dir } = gentooPrefix();
    const { rmSync } = await import("node:fs");
    rmSync(`${dir}/etc/portage/sets/eessi-2025.06-linux-x86_64`);
    const r = await setInstalled.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toContain(`${P}/etc/portage/sets/eessi-2025.06-linux-x86_64`);
  });

  it("fails a nested set reference that leads out of etc/portage/sets, without reading it", async () => {
    const { ctx, dir } = gentooPrefix({
      "etc/portage/sets/eessi-base": "sys-libs/pam\n@../../../var/db/pkg/sys-libs/pam-1.7.0_p20241230/SLOT\n",
    });
    const { writeFileSync } = await import("node:fs");
    // were the reference followed, this file's line would become an atom of the set
    writeFileSync(`${dir}/var/db/pkg/sys-libs/pam-1.7.0_p20241230/SLOT`, "sys-apps/outside-the-sets\n");
    const r = await setInstalled.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.details![0]).toBe(
      `${P}/etc/portage/sets/eessi-base:2: set name "../../../var/db/pkg/sys-libs/pam-1.7.0_p20241230/SLOT" contains a "/" (a single name is expected here)`,
    );
    expect(JSON.stringify(r.evidence)).not.toContain("outside-the-sets");
  });
});

describe("glibc-env-file", () => {
  it("passes when the env file, package.env and the installed glibc agree with the spec", async () => {
    const r = await glibcEnvFile.run(gentooPrefix().ctx);
    expect(r.status, JSON.stringify(r.evidence)).toBe("pass");
  });

  it("fails a glibc built with the dirs in another order (the reference's regex matched any one character)", async () => {
    const swapped = [TRUSTED[0], TRUSTED[2], TRUSTED[1]].join(":");
    const { ctx } = gentooPrefix({
      "var/db/pkg/sys-libs/glibc-2.41-r4/EXTRA_EMAKE": `user-defined-trusted-dirs=${swapped}\n`,
    });
    const r = await glibcEnvFile.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([`${P}/var/db/pkg/sys-libs/glibc-2.41-r4/EXTRA_EMAKE`]);
  });

  it("fails a package.env without the glibc line and a missing env file", async () => {
    const { ctx, dir } = gentooPrefix({ "etc/portage/package.env": "dev-util/direnv test.conf\n" });
    const { rmSync } = await import("node:fs");
    rmSync(`${dir}/etc/portage/env/glibc-user-defined-trusted-dirs.conf`);
    const r = await glibcEnvFile.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([
      `${P}/etc/portage/env/glibc-user-defined-trusted-dirs.conf`,
      `${P}/etc/portage/package.env`,
    ]);
  });
});

describe("reprod-record", () => {
  it("passes a gentoo record (qlist -IRv form) equal to the vardb", async () => {
    const r = await reprodRecord.run(gentooPrefix().ctx);
    expect(r.status, JSON.stringify(r.evidence)).toBe("pass");
  });

  it("fails a record that differs from the vardb, naming packages.txt", async () => {
    const { ctx } = gentooPrefix({ ...entry("app-shells/bash-5.2_p37") });
    const r = await reprodRecord.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.files).toEqual([`${P}/reprod/20250701_120000UTC/packages.txt`]);
    expect(r.evidence.details).toContain("installed but not recorded: app-shells/bash-5.2_p37::gentoo");
  });

  it("compares a debian record with dpkg's status database and fails a layer without a record", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const status = [
      "Package: bash",
      "Status: install ok installed",
      "Architecture: amd64",
      "Version: 5.2.15-2+b7",
      "",
      "Package: libc6",
      "Status: install ok installed",
      "Architecture: amd64",
      "Version: 2.36-9+deb12u10",
      "",
    ].join("\n");
    writeLayout(t.dir, {
      "var/lib/dpkg/status": status,
      "reprod/20260101T000000Z/build.json": "{}",
      "reprod/20260101T000000Z/packages.txt": "bash:amd64 5.2.15-2+b7\nlibc6:amd64 2.36-9+deb12u10\n",
    });
    expect((await reprodRecord.run(contextFor(bareTarget(t.dir)))).status).toBe("pass");
    const t2 = tempDir();
    writeLayout(t2.dir, { "var/lib/dpkg/status": status });
    const r = await reprodRecord.run(contextFor(bareTarget(t2.dir)));
    t2.cleanup();
    expect(r.status).toBe("fail");
    expect(r.evidence.found).toBe("no reproducibility record");
  });
});

describe("set-installed, debian flavor", () => {
  const DEV = `
repository: software.example.org
stack: dev
version: "2025.06"
arches: [x86_64]
flavor: debian
debian: { suite: bookworm, packages: [bash, xz-utils] }
`;
  const stanza = (name: string, state = "install ok installed") =>
    `Package: ${name}\nStatus: ${state}\nArchitecture: amd64\nVersion: 1.0-1\n\n`;

  it("passes when dpkg has every package of the spec installed", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeLayout(t.dir, { "var/lib/dpkg/status": stanza("bash") + stanza("xz-utils") });
    expect((await setInstalled.run(contextFor(specTarget(DEV, t.dir)))).status).toBe("pass");
  });

  it("fails a package of the spec that dpkg does not have installed, naming the status file", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    writeLayout(t.dir, {
      "var/lib/dpkg/status": stanza("bash") + stanza("xz-utils", "deinstall ok config-files"),
    });
    const ctx = contextFor(specTarget(DEV, t.dir));
    const r = await setInstalled.run(ctx);
    expect(r.status).toBe("fail");
    expect(r.evidence.found).toBe("not installed: xz-utils");
    expect(r.evidence.files).toEqual([ctx.fs.abs("var/lib/dpkg/status")]);
  });
});
