/**
 * The shared development layer (examples/dev.yaml through the whole pipeline: mmdebstrap →
 * relocation → environment fixes and startprefix → locales → host links → checks), entered as a
 * user would: the command runs in the layer under bwrap at the real prefix path, and every
 * process of the layer is shown to map shared objects from the prefix only (LD_DEBUG=scopes in
 * each process, and /proc/self/maps). What the relocate and configure stages did is read from
 * their reports in the build's run directory.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLeaving } from "../../src/checks/shell.js";
import type { ConfigureReport } from "../../src/debian/configure.js";
import { readDpkgStatus } from "../../src/debian/status.js";
import { type LayerRunOptions, runInLayer, type SandboxCommand } from "../../src/exec/sandbox.js";
import { CONFIGURE_REPORT, RELOCATION_REPORT } from "../../src/flavors/debian/index.js";
import type { RelocationReport } from "../../src/layer/relocate.js";
import { type DevLayer, devLayer } from "../helpers/dev-layer.js";

const PACKAGES = ["python3", "perl", "lmod", "locales", "file", "ca-certificates"];

const canRun =
  process.getuid?.() === 0 &&
  process.arch === "x64" &&
  ["mmdebstrap", "patchelf", "bwrap"].every((t) => spawnSync(t, ["--version"]).status === 0);

describe.skipIf(!canRun)("a debian-flavor layer, built and entered", () => {
  let dev: DevLayer;
  let P: string;
  let scratch: string;
  let relocation: RelocationReport;
  let configured: ConfigureReport;
  const inLayer = (command: SandboxCommand, opts: LayerRunOptions = {}) =>
    runInLayer({ root: dev.root, repository: dev.layer.repository }, command, {
      readOnlyLayer: true,
      ...opts,
    });
  const report = <T>(name: string): T => JSON.parse(readFileSync(join(dev.runDir, name), "utf8")) as T;

  beforeAll(async () => {
    dev = await devLayer();
    P = dev.prefix;
    scratch = mkdtempSync(join(tmpdir(), "debian-layer-out-"));
    relocation = report<RelocationReport>(RELOCATION_REPORT);
    configured = report<ConfigureReport>(CONFIGURE_REPORT);
  });

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("installed the packages and relocated everything that can be", async () => {
    for (const p of PACKAGES) expect(dev.spec.debian?.packages).toContain(p);
    const db = await readDpkgStatus(dev.localPrefix);
    for (const p of [...PACKAGES, "bash", "libc6"]) expect(db.packages.map((x) => x.name)).toContain(p);
    expect(relocation.failed).toEqual([]);
    expect(relocation.elf.executables).toBeGreaterThan(100);
    expect(relocation.removed.deviceNodes).toBeGreaterThan(0);
    expect(configured.hostPaths.files).toHaveLength(2);
    expect(configured.env.map((v) => v.name)).toEqual(
      expect.arrayContaining(["LOCPATH", "GCONV_PATH", "PERL5LIB", "SSL_CERT_FILE"]),
    );
  });

  it("runs the issue's command through startprefix, mapping no shared object from outside the prefix", async () => {
    const ld = join(scratch, "ld");
    mkdirSync(ld);
    const command = `python3 -c "import ssl,sqlite3"; perl -MPOSIX -e 1; locale -a; source $EPREFIX/usr/share/lmod/lmod/init/bash && module avail`;
    const r = await inLayer([`${P}/startprefix`], {
      input: `export LD_DEBUG=scopes LD_DEBUG_OUTPUT=${ld}/ld\n${command}\n`,
      env: { HOME: "/root", USER: "root", TERM: "dumb", PATH: "/usr/bin:/bin" },
      okStatuses: [0, 1, 2, 127],
    });
    const { stdout, exitStatus } = parseLeaving(r.stdout);
    expect(exitStatus, r.stderr).toBe(0);
    expect(stdout).toMatch(/^en_US\.utf8$/m);
    expect(r.stderr).toMatch(/lmod\s+settarg/);
    expect(r.stderr).toContain('Use "module spider" to find all possible modules and extensions.');

    // one LD_DEBUG file per process: its loader tells a layer program from a host program
    const layerPrograms = new Set<string>();
    const hostPrograms = new Set<string>();
    const outside: string[] = [];
    for (const f of readdirSync(ld)) {
      const text = readFileSync(join(ld, f), "utf8");
      const program = /object=(\S+) \[0\]/.exec(text)?.[1] ?? "?";
      const objects = new Set(
        [...text.matchAll(/(?:object=|scope \d+:)(.*)$/gm)]
          .flatMap((m) => m[1]!.trim().split(/\s+/))
          .filter((o) => o.startsWith("/")),
      );
      const loader = [...objects].find((o) => /\/ld-linux[^/]*\.so/.test(o));
      if (loader?.startsWith(`${P}/`)) {
        layerPrograms.add(program.split("/").pop()!);
        for (const o of objects) if (!o.startsWith(`${P}/`)) outside.push(`${program}: ${o}`);
      } else hostPrograms.add(program);
    }
    expect(outside).toEqual([]);
    for (const p of ["python3", "perl", "lua5.3"]) expect(layerPrograms).toContain(p);
    // Lmod's io.popen() runs /bin/sh through libc's compiled path: the host's shell (a known limit)
    for (const p of hostPrograms) expect(p).toBe("sh");
  });

  it("shows only prefix objects in python's and perl's /proc/self/maps", async () => {
    const maps = async (argv: string[]) => {
      const r = await inLayer([`${P}/startprefix`], {
        input: `${argv.join(" ")}\n`,
        env: { HOME: "/root", USER: "root", PATH: "/usr/bin:/bin" },
      });
      return [
        ...new Set(
          r.stdout
            .split("\n")
            .map((l) => l.split(/\s+/)[5] ?? "")
            .filter((p) => p.startsWith("/")),
        ),
      ];
    };
    const py = await maps(["python3", "-c", `'import ssl,sqlite3; print(open("/proc/self/maps").read())'`]);
    expect(py.some((p) => /_ssl\.cpython.*\.so$/.test(p))).toBe(true);
    expect(py.some((p) => /_sqlite3\.cpython.*\.so$/.test(p))).toBe(true);
    expect(py.filter((p) => !p.startsWith(`${P}/`))).toEqual([]);
    const pl = await maps(["perl", "-MPOSIX", "-e", `'open(M, "<", "/proc/self/maps"); print <M>'`]);
    expect(pl.some((p) => /POSIX\.so$/.test(p))).toBe(true);
    expect(pl.filter((p) => !p.startsWith(`${P}/`))).toEqual([]);
  });

  it("uses the layer's data, not the host's: certificates, perl modules, locales, magic, iconv", async () => {
    const r = await inLayer([`${P}/startprefix`], {
      input: [
        `python3 -c "import ssl; print(ssl.get_default_verify_paths().cafile)"`,
        `perl -e 'require Data::Dumper; print $INC{"Data/Dumper.pm"}, "\\n"'`,
        "LANG=en_US.UTF-8 locale charmap",
        "file -b $EPREFIX/usr/bin/perl | cut -c1-10",
        "printf '\\xe4' | iconv -f latin1 -t utf-8",
        "echo",
      ].join("\n"),
      env: { HOME: "/root", USER: "root", PATH: "/usr/bin:/bin" },
    });
    const out = parseLeaving(r.stdout).stdout.split("\n");
    expect(out).toContain(`${P}/etc/ssl/certs/ca-certificates.crt`);
    expect(out.find((l) => l.endsWith("Data/Dumper.pm"))?.startsWith(`${P}/`)).toBe(true);
    expect(out).toContain("UTF-8");
    expect(out).toContain("ELF 64-bit");
    expect(out).toContain("ä");
  });

  it("loads the NSS modules the host's nsswitch.conf names from the layer", async () => {
    const r = await inLayer([`${P}/startprefix`], {
      input:
        "LD_DEBUG=libs getent passwd no-such-user-compat 2>&1 | grep 'calling init:'; getent passwd root\n",
      env: { HOME: "/root", USER: "root", PATH: "/usr/bin:/bin" },
    });
    const out = parseLeaving(r.stdout).stdout;
    expect(out).toMatch(/^root:x:0:0:/m);
    const nss = [...out.matchAll(/calling init: (\S*libnss_\S+)/g)].map((m) => m[1]!);
    for (const so of nss) expect(so.startsWith(`${P}/`), so).toBe(true);
    if (/^passwd:.*\bsystemd\b/m.test(readFileSync("/etc/nsswitch.conf", "utf8")))
      expect(nss).toContain(`${P}/usr/lib/x86_64-linux-gnu/libnss_systemd.so.2`);
  });
});
