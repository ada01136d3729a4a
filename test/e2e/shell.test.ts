/**
 * `compat shell` end to end on the shared dev layer, with the built CLI: the acceptance command,
 * exit statuses, and proof that no shared object from outside the prefix is mapped in the layer's
 * processes (their /proc/PID/maps and glibc's LD_DEBUG=libs record of every object it loads).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compatAsync } from "../helpers/cli.js";
import { type DevLayer, devLayer } from "../helpers/dev-layer.js";

const ACCEPTANCE =
  'python3 -c "import ssl,sqlite3"; perl -MPOSIX -e 1; locale -a; source $EPREFIX/usr/share/lmod/lmod/init/bash && module avail';

let dev: DevLayer;
let scratch: string;
/** Whether the host has the layer's repository under /cvmfs (a stratum 0 or client may): the same after. */
let hostHadRepository: boolean;
const shell = (...cmd: string[]) => [
  "shell",
  dev.specFile,
  "--arch",
  dev.layer.arch,
  "--root",
  dev.root,
  ...(cmd.length ? ["--", ...cmd] : []),
];

beforeAll(async () => {
  dev = await devLayer();
  hostHadRepository = existsSync(`/cvmfs/${dev.layer.repository}`);
  scratch = mkdtempSync(join(tmpdir(), "compat-shell-e2e-"));
}, 600_000);
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  // only this layer's repository: other programs (a CVMFS server, other tests) may change /cvmfs meanwhile
  expect(existsSync(`/cvmfs/${dev.layer.repository}`)).toBe(hostHadRepository);
});

describe("compat shell", () => {
  it("runs the acceptance command in the layer", async () => {
    const r = await compatAsync(shell(ACCEPTANCE));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Entering Prefix ${dev.prefix}`);
    expect(r.stdout.split("\n")).toContain("en_US.utf8");
    expect(r.stdout).toContain("Leaving Prefix with exit status 0");
    // Lmod writes `module avail` to stderr
    expect(r.stderr).toMatch(/lmod\s+settarg/);
  });

  it("returns the command's exit status", async () => {
    expect((await compatAsync(shell("exit 7"))).status).toBe(7);
    expect((await compatAsync(shell("false"))).status).toBe(1);
    // the words after -- are joined, as `startprefix <<< "CMD"` gets them
    const joined = await compatAsync(shell("echo", "$EPREFIX", "joined"));
    expect(joined.stdout).toContain(`${dev.prefix} joined`);
  });

  it("maps no shared object from outside the prefix in the layer's processes", async () => {
    const out = join(scratch, "leak");
    const cmd = [
      `mkdir -p ${out}`,
      `cat /proc/$$/maps > ${out}/shell.maps`,
      `python3 -c "import ssl,sqlite3; print(open('/proc/self/maps').read())" > ${out}/python.maps`,
      `perl -MPOSIX -e 'open(my $f, "<", "/proc/self/maps"); print <$f>' > ${out}/perl.maps`,
      `export LD_DEBUG=libs,files LD_DEBUG_OUTPUT=${out}/ld`,
      ACCEPTANCE,
    ].join("; ");
    const r = await compatAsync(shell(cmd));
    expect(r.status, r.stderr).toBe(0);

    const outside = (paths: string[]) => paths.filter((p) => !p.startsWith(`${dev.prefix}/`));
    // /proc/PID/maps: every file-backed mapping (not /dev, memfd, anonymous or [vdso]…)
    const maps = readdirSync(out).filter((f) => f.endsWith(".maps"));
    expect(maps.sort()).toEqual(["perl.maps", "python.maps", "shell.maps"]);
    for (const f of maps) {
      const files = readFileSync(join(out, f), "utf8")
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[5] ?? "")
        .filter((p) => p.startsWith("/") && !p.startsWith("/dev/") && !p.startsWith("/memfd:"));
      expect(files.filter((p) => p.includes(".so")).length, f).toBeGreaterThan(2);
      expect(outside(files), f).toEqual([]);
    }
    // LD_DEBUG=libs,files: one file per process started after the export. A process of the layer
    // runs the prefix's loader (its PT_INTERP); the only others are the host's /bin/sh that
    // popen()/system() start (Lmod asks the terminal's width that way): a known limit of the
    // debian flavor (reference/relocation.md §7.2), listed in the README.
    const ld = readdirSync(out).filter((f) => f.startsWith("ld."));
    const processes = ld.map((f) => {
      const text = readFileSync(join(out, f), "utf8");
      const loaded = [...text.matchAll(/calling init: (\S+)/g)].map((m) => m[1]!);
      const program = /needed by (\S+) \[0\]/.exec(text)?.[1] ?? "?";
      return {
        program,
        loaded,
        host: loaded.some((p) => /\/ld-linux[^/]*\.so/.test(p) && !p.startsWith(dev.prefix)),
      };
    });
    const layerProcesses = processes.filter((p) => !p.host);
    expect(layerProcesses.map((p) => p.program.split("/").pop())).toEqual(
      expect.arrayContaining(["python3", "perl", "bash", "lua5.3"]),
    );
    const loaded = layerProcesses.flatMap((p) => p.loaded);
    expect(loaded.some((p) => p.includes("/python3.11/lib-dynload/") || p.includes("libpython3"))).toBe(true);
    expect(loaded.some((p) => p.endsWith("/POSIX.so"))).toBe(true);
    expect(outside(loaded)).toEqual([]);
    expect(processes.filter((p) => p.host).map((p) => p.program)).toEqual(
      processes.filter((p) => p.host).map(() => "sh"),
    );
  });

  it("refuses a root without a layer, naming what to build", async () => {
    const r = await compatAsync([
      "shell",
      dev.specFile,
      "--arch",
      dev.layer.arch,
      "--root",
      join(scratch, "empty"),
      "--",
      "true",
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("no layer at");
    expect(r.stderr).toContain(`compat build ${dev.specFile} --arch ${dev.layer.arch}`);
  });

  it("names bubblewrap when bwrap is missing", async () => {
    const r = await compatAsync(shell("true"), { env: { ...process.env, PATH: join(scratch, "no-bin") } });
    expect(r.status).toBe(4);
    expect(r.stderr).toContain("bwrap: command not found");
    expect(r.stderr).toContain("apt-get install bubblewrap");
  });

  it("keeps the layer read-only unless --writable", async () => {
    const r = await compatAsync(shell("touch $EPREFIX/compat-e2e-write"));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Read-only file system");
    expect(existsSync(join(dev.localPrefix, "compat-e2e-write"))).toBe(false);
  });
});
