/**
 * A foreign arch for real: a small riscv64 layer (Debian trixie, minbase + python3, locales and lmod) built on this
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
  packages: [python3, locales, lmod]
hostSymlinks: [/etc/group, /etc/passwd, /etc/hosts, /etc/resolv.conf]
variantSymlinks:
  enabled: false
`;

/** aarch64 from bookworm, the single-value suite: outside the default run (COMPAT_SLOW_TESTS=1). */
const AARCH64_SPEC = SPEC.replace("arches: [x86_64, riscv64]", "arches: [x86_64, aarch64]").replace(
  /suite:\n.*\n.*\n/,
  "suite: bookworm\n",
);

const specDir = mkdtempSync(join(tmpdir(), "compat-foreign-spec-"));
const specFile = join(specDir, "small.yaml");
writeFileSync(specFile, SPEC);
const aarch64SpecFile = join(specDir, "small-bookworm.yaml");
writeFileSync(aarch64SpecFile, AARCH64_SPEC);
const work = mkdtempSync(join(tmpdir(), "compat-foreign-"));
afterAll(() => {
  rmSync(specDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;
const slow = process.env.COMPAT_SLOW_TESTS === "1";

const LAYERS = [
  { arch: "riscv64", machine: 243, debianVersion: /^13\./, spec: specFile, run: isRoot },
  { arch: "aarch64", machine: 183, debianVersion: /^12\./, spec: aarch64SpecFile, run: isRoot && slow },
] as const;

describe.each(LAYERS)(
  "a $arch layer built under qemu-user",
  ({ arch, machine, debianVersion, spec, run }) => {
    let layer: DevLayer;

    beforeAll(async () => {
      if (!run) return;
      // scripts/deps.sh registers the handlers; a machine where it could not is told why here
      const emulated = emulationFor(arch);
      if (!emulated.runnable)
        throw new Error(`this machine cannot run ${arch} programs: ${emulated.problem} (${emulated.hint})`);
      layer = await cachedLayer(spec, arch);
    }, 1_800_000);

    it.runIf(run)(`is ${arch}, relocated with patchelf, its programs run emulated`, () => {
      const elf = readFileSync(join(layer.localPrefix, "usr/bin/bash"));
      expect(elf.readUInt16LE(18)).toBe(machine);
      expect(readFileSync(join(layer.localPrefix, "etc/debian_version"), "utf8")).toMatch(debianVersion);
      const relocation = JSON.parse(readFileSync(join(layer.runDir, "relocation.json"), "utf8"));
      expect(relocation.elf.executables).toBeGreaterThan(20);
      const preflight = readFileSync(join(layer.runDir, "stages/preflight.log"), "utf8");
      expect(preflight).toMatch(
        new RegExp(`${arch} programs run emulated \\(binfmt_misc qemu-${arch}: .*flags [A-Z]*F`),
      );
    });

    it.runIf(run)("passes the check suite, running the layer's programs", () => {
      const r = compat(["check", spec, "--arch", arch, "--root", layer.root, "--json"]);
      const report = JSON.parse(r.stdout);
      const failed = report.results.filter((x: { status: string }) => x.status === "fail");
      expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
      expect(r.status, r.stderr).toBe(0);
      expect(report.summary.passed).toBeGreaterThanOrEqual(10);
      // no check was skipped because the layer's programs could not run here
      const skipped = report.results.filter((x: { status: string }) => x.status === "skip");
      expect(JSON.stringify(skipped)).not.toMatch(/cannot run|binfmt_misc|this host is/);
      // echo and locale-utf8 run programs of the layer (emulated) through startprefix in the sandbox
      const status = (id: string) => report.results.find((x: { id: string }) => x.id === id)?.status;
      expect([status("echo"), status("locale-utf8")]).toEqual(["pass", "pass"]);
    });

    it.runIf(run)(`compat shell runs python3 as ${arch}`, () => {
      const r = compat([
        "shell",
        spec,
        "--arch",
        arch,
        "--root",
        layer.root,
        "--",
        'python3 -c "import platform; print(platform.machine())"',
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Entering Prefix ${layer.prefix}`);
      expect(r.stdout.split("\n")).toContain(arch);
      expect(r.stdout).toContain("Leaving Prefix with exit status 0");
    });

    it.runIf(run)("packs, verifies and publishes to a local repository", () => {
      const out = join(work, `out-${arch}`);
      const p = compat(["pack", spec, "--arch", arch, "--root", layer.root, "-o", out, "--json"]);
      expect(p.status, p.stderr).toBe(0);
      const artifact = JSON.parse(p.stdout).artifact as string;
      expect(artifact).toMatch(new RegExp(`/small-2025\\.06-compat-linux-${arch}-\\d+\\.tar\\.zst$`));
      const v = compat(["verify", artifact, "--json"]);
      expect(v.status, v.stdout).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, violationCount: 0 });
      const repo = join(work, `repo-${arch}`);
      mkdirSync(repo);
      const pub = compat(["publish", artifact, "--to", `local:${repo}`, "--json"]);
      expect(pub.status, pub.stderr).toBe(0);
      const published = JSON.parse(pub.stdout).path as string;
      expect(published).toMatch(new RegExp(`versions/2025\\.06/compat/linux/${arch}$`));
      expect(readFileSync(join(published, "usr/bin/bash")).readUInt16LE(18)).toBe(machine);
    });
  },
);

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
