/**
 * A foreign arch for real: a small riscv64 layer (Debian trixie, minbase + python3) built on this
 * machine under qemu-user (qemu-user-static registered with binfmt_misc by scripts/deps.sh), then
 * checked (its programs run emulated in the sandbox), entered with `compat shell`, packed, verified
 * and published, all through the built CLI. One build (cached like the dev layer) serves every
 * assertion. The preflight's refusals run the CLI in a mount namespace of its own where a tmpfs
 * stands in for binfmt_misc: the kernel's handlers (kernel-global) are never touched.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emulationFor } from "../../src/exec/emulation.js";
import { compat, compatBin } from "../helpers/cli.js";
import { cachedLayer, type DevLayer } from "../helpers/dev-layer.js";

const SPEC = `# test/integration/foreign-arch.test.ts: a handful of packages, the suite named per arch
repository: software.example.org
stack: small
version: "2025.06"
arches: [x86_64, riscv64]
flavor: debian
debian:
  suite:
    x86_64: bookworm
    riscv64: trixie
  variant: minbase
  packages: [python3]
hostSymlinks: [/etc/group, /etc/passwd, /etc/hosts, /etc/resolv.conf]
variantSymlinks:
  enabled: false
`;

const specDir = mkdtempSync(join(tmpdir(), "compat-foreign-spec-"));
const specFile = join(specDir, "small.yaml");
writeFileSync(specFile, SPEC);
const work = mkdtempSync(join(tmpdir(), "compat-foreign-"));
afterAll(() => {
  rmSync(specDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const emulated = emulationFor("riscv64");
const isRoot = process.getuid?.() === 0;

describe.runIf(isRoot)("a riscv64 layer built under qemu-user", () => {
  let rv: DevLayer;

  beforeAll(async () => {
    // scripts/deps.sh registers the handlers; a machine where it could not is told why here
    if (!emulated.runnable)
      throw new Error(`this machine cannot run riscv64 programs: ${emulated.problem} (${emulated.hint})`);
    rv = await cachedLayer(specFile, "riscv64");
  }, 1_200_000);

  it("is riscv64 from trixie, relocated with patchelf", () => {
    const elf = readFileSync(join(rv.localPrefix, "usr/bin/bash"));
    expect(elf.readUInt16LE(18)).toBe(243); // EM_RISCV
    expect(readFileSync(join(rv.localPrefix, "etc/debian_version"), "utf8")).toMatch(/^13\./);
    const relocation = JSON.parse(readFileSync(join(rv.runDir, "relocation.json"), "utf8"));
    expect(relocation.elf.executables).toBeGreaterThan(20);
    const log = readdirSync(join(rv.runDir, "logs")).map((f) =>
      readFileSync(join(rv.runDir, "logs", f), "utf8"),
    );
    expect(log.join("\n")).toMatch(/riscv64 programs run emulated \(binfmt_misc qemu-riscv64/);
  });

  it("passes the check suite, its programs run emulated", () => {
    const r = compat(["check", specFile, "--arch", "riscv64", "--root", rv.root, "--json"]);
    const report = JSON.parse(r.stdout);
    const failed = report.results.filter((x: { status: string }) => x.status === "fail");
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(r.status, r.stderr).toBe(0);
    expect(report.summary.passed).toBeGreaterThanOrEqual(10);
    // checks that run the layer's programs ran them (not skipped for the arch)
    const skipped = report.results.filter((x: { status: string }) => x.status === "skip");
    expect(JSON.stringify(skipped)).not.toMatch(/this host is|cannot run/);
  });

  it("compat shell runs python3 as riscv64", () => {
    const r = compat([
      "shell",
      specFile,
      "--arch",
      "riscv64",
      "--root",
      rv.root,
      "--",
      'python3 -c "import platform; print(platform.machine())"',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Entering Prefix ${rv.prefix}`);
    expect(r.stdout.split("\n")).toContain("riscv64");
    expect(r.stdout).toContain("Leaving Prefix with exit status 0");
  });

  it("packs, verifies and publishes to a local repository", () => {
    const p = compat([
      "pack",
      specFile,
      "--arch",
      "riscv64",
      "--root",
      rv.root,
      "-o",
      join(work, "out"),
      "--json",
    ]);
    expect(p.status, p.stderr).toBe(0);
    const artifact = JSON.parse(p.stdout).artifact as string;
    expect(artifact).toMatch(/\/small-2025\.06-compat-linux-riscv64-\d+\.tar\.zst$/);
    const v = compat(["verify", artifact, "--json"]);
    expect(v.status, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, violationCount: 0 });
    const repo = join(work, "repo");
    mkdirSync(repo);
    const pub = compat(["publish", artifact, "--to", `local:${repo}`, "--json"]);
    expect(pub.status, pub.stderr).toBe(0);
    const published = JSON.parse(pub.stdout).path as string;
    expect(published).toMatch(/versions\/2025\.06\/compat\/linux\/riscv64$/);
    expect(readFileSync(join(published, "usr/bin/bash")).readUInt16LE(18)).toBe(243);
  });
});

/** `compat ARGS` in a private mount namespace where `setup` (sh) first changes /proc/sys/fs/binfmt_misc. */
function compatWithBinfmt(setup: string, args: string[]) {
  const quoted = [process.execPath, compatBin, ...args]
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    .join(" ");
  return spawnSync(
    "unshare",
    ["--mount", "--propagation", "private", "sh", "-euc", `${setup}\nexec ${quoted}`],
    {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    },
  );
}

describe.runIf(isRoot)(
  "the preflight refuses a foreign arch this machine cannot run (exit 4), before it writes anything",
  () => {
    const BINFMT = "/proc/sys/fs/binfmt_misc";
    const build = (setup: string) => {
      const root = join(work, `root-${Math.random().toString(36).slice(2)}`);
      const runs = join(work, `runs-${Math.random().toString(36).slice(2)}`);
      const r = compatWithBinfmt(setup, [
        "build",
        specFile,
        "--arch",
        "riscv64",
        "--root",
        root,
        "--runs-dir",
        runs,
      ]);
      expect(existsSync(root), "no root made").toBe(false);
      expect(existsSync(runs) ? readdirSync(runs) : [], "no run recorded").toEqual([]);
      return r;
    };

    it("binfmt_misc not mounted", () => {
      const r = build(`mount -t tmpfs none ${BINFMT}`);
      expect(r.status, r.stderr).toBe(4);
      expect(r.stderr).toMatch(
        /cannot run riscv64 programs here: this machine is x86_64 and runs riscv64 programs only through qemu-user, but binfmt_misc is not mounted at \/proc\/sys\/fs\/binfmt_misc/,
      );
      expect(r.stderr).toMatch(/update-binfmts --enable/);
    });

    it.runIf(existsSync(`${BINFMT}/qemu-aarch64`))(
      "no handler for the arch (only aarch64's is registered)",
      () => {
        const r = build(
          `aarch64=$(cat ${BINFMT}/qemu-aarch64)\nmount -t tmpfs none ${BINFMT}\necho enabled > ${BINFMT}/status\nprintf '%s\\n' "$aarch64" > ${BINFMT}/qemu-aarch64`,
        );
        expect(r.status, r.stderr).toBe(4);
        expect(r.stderr).toMatch(
          /no binfmt_misc handler in \/proc\/sys\/fs\/binfmt_misc runs riscv64 programs/,
        );
        expect(r.stderr).toMatch(
          /apt-get install qemu-user-static binfmt-support && update-binfmts --enable/,
        );
      },
    );
  },
);
