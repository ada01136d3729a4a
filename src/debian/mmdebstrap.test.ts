import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError, ToolError } from "../errors.js";
import type { DebianSettings } from "../spec/schema.js";
import {
  checkDebianPackages,
  DANGLING_EXCLUDED_LINKS_HOOK,
  DPKG_PATH_FILTERS,
  HOST_COPIES_HOOK,
  inOwnMountNamespace,
  mmdebstrapInvocation,
  runMmdebstrap,
  unknownPackages,
} from "./mmdebstrap.js";
import { nssCustomizeHook } from "./nss.js";

const settings: DebianSettings = {
  suite: "bookworm",
  components: ["main"],
  variant: "minbase",
  packages: ["bash", "python3"],
  requiredSpace: "1 GB",
};

describe("mmdebstrapInvocation", () => {
  it("builds the command line and feeds the sources on stdin", () => {
    const inv = mmdebstrapInvocation({ settings, arch: "x86_64", targetDir: "/tmp/t", hostSources: [] });
    expect(inv.args.slice(0, 4)).toEqual([
      "--variant=minbase",
      "--architectures=amd64",
      "--format=directory",
      "--include=bash,python3",
    ]);
    expect(inv.args).toContain("--dpkgopt=force-unsafe-io");
    for (const f of DPKG_PATH_FILTERS) expect(inv.args).toContain(`--dpkgopt=${f}`);
    expect(inv.args.filter((a) => a.startsWith("--customize-hook="))).toHaveLength(3);
    expect(inv.args).toContain(`--customize-hook=${DANGLING_EXCLUDED_LINKS_HOOK}`);
    // the build host's hostname and resolv.conf, which mmdebstrap copies in, are not the layer's
    expect(inv.args).toContain(`--customize-hook=${HOST_COPIES_HOOK}`);
    expect(inv.args.slice(-3)).toEqual(["bookworm", "/tmp/t", "-"]);
    expect(inv.input).toContain("Suites: bookworm bookworm-updates");
  });

  it("keeps docs and skips NSS modules on request; simulates without hooks", () => {
    const inv = mmdebstrapInvocation({
      settings: { ...settings, packages: [] },
      arch: "aarch64",
      targetDir: "/t",
      hostSources: [],
      keepDocs: true,
      nssPackages: [],
    });
    expect(inv.args).toContain("--architectures=arm64");
    expect(inv.args.some((a) => a.includes("path-exclude") || a.startsWith("--include"))).toBe(false);
    expect(inv.args.filter((a) => a.startsWith("--customize"))).toEqual([
      `--customize-hook=${HOST_COPIES_HOOK}`,
    ]);
    const sim = mmdebstrapInvocation({
      settings,
      arch: "x86_64",
      targetDir: "/t",
      hostSources: [],
      simulate: true,
    });
    expect(sim.args).toContain("--simulate");
    expect(sim.args.some((a) => a.startsWith("--dpkgopt") || a.startsWith("--customize"))).toBe(false);
  });

  it("refuses a bad package name in the NSS hook", () => {
    expect(() => nssCustomizeHook(["libnss-sss; rm -rf /"])).toThrow(/not a Debian package name/);
  });
});

describe("runMmdebstrap without mmdebstrap", () => {
  it("names the Debian package to install", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      const err = await runMmdebstrap({
        settings,
        arch: "x86_64",
        targetDir: "/nonexistent/t",
        hostSources: [],
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ToolError);
      expect((err as ToolError).hint).toBe("install it with: apt-get install mmdebstrap");
    } finally {
      process.env.PATH = path;
    }
  });
});

describe("unknownPackages", () => {
  it("finds the package in real mmdebstrap output", () => {
    expect(
      unknownPackages(
        readFileSync(new URL("./testdata/mmdebstrap-unknown-package.log", import.meta.url), "utf8"),
      ),
    ).toEqual(["no-such-pkg-xyz"]);
  });

  it("knows apt's other wordings", () => {
    expect(
      unknownPackages(
        "E: Unable to locate package a\nE: Package 'b' has no installation candidate\nE: Couldn't find any package by regex 'c.d'\nE: Unable to locate package a\n",
      ),
    ).toEqual(["a", "b", "c.d"]);
    expect(unknownPackages("E: mmdebstrap failed to run\n")).toEqual([]);
  });
});

// Real apt, no installation: mmdebstrap --simulate (about 2 s, needs the Debian mirror).
const haveMmdebstrap = spawnSync("mmdebstrap", ["--version"]).status === 0 && process.getuid?.() === 0;
describe.skipIf(!haveMmdebstrap)("checkDebianPackages (mmdebstrap --simulate)", () => {
  it("names every package Debian does not have", async () => {
    const err = await checkDebianPackages({
      settings: { ...settings, packages: ["bash", "no-such-package-compat", "python3", "pyhton3"] },
      arch: "x86_64",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/has no packages no-such-package-compat, pyhton3$/);
    expect((err as InputError).exitCode).toBe(2);
  });

  it("accepts a list apt can resolve", async () => {
    await expect(checkDebianPackages({ settings, arch: "x86_64" })).resolves.toBeUndefined();
  });
});

describe.runIf(process.getuid?.() === 0)("the mount namespace mmdebstrap runs in", () => {
  it("keeps its mounts from the host and sees the host's unmounts (a publish's remount does not wait for it)", async () => {
    const [command, argv] = inOwnMountNamespace(false, []);
    expect(argv.at(-1)).toBe("mmdebstrap");
    const dir = mkdtempSync(join(tmpdir(), "compat-mountns-"));
    const top = join(dir, "top");
    const mount = (...args: string[]) => {
      const r = spawnSync("mount", args, { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    };
    mkdirSync(top);
    mount("-t", "tmpfs", "top", top);
    try {
      // a host mount that propagates, as / on a systemd host (and CernVM-FS's mounts under it)
      mount("--make-shared", top);
      mkdirSync(join(top, "repository"));
      mkdirSync(join(top, "chroot-proc"));
      mount("-t", "tmpfs", "repository", join(top, "repository"));
      // the namespace's own mount, then a wait in which the host unmounts the repository
      const script = `mount -t tmpfs chroot ${join(top, "chroot-proc")} && echo mounted && sleep 30`;
      const child = spawn(command, [...argv.slice(0, -1), "sh", "-c", script], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.once("data", () => resolve());
          child.once("exit", (code) => reject(new Error(`the namespace ended first (exit ${code})`)));
        });
        const hostMounts = readFileSync("/proc/self/mountinfo", "utf8");
        expect(hostMounts).not.toContain(join(top, "chroot-proc"));
        const u = spawnSync("umount", [join(top, "repository")], { encoding: "utf8" });
        expect(u.status, u.stderr).toBe(0);
        const theirs = readFileSync(`/proc/${child.pid}/mountinfo`, "utf8");
        expect(theirs).toContain(join(top, "chroot-proc"));
        expect(theirs).not.toContain(join(top, "repository"));
      } finally {
        child.kill("SIGKILL");
      }
    } finally {
      spawnSync("umount", ["-R", "-l", top]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
