/**
 * The check suite on the real development layer (examples/dev.yaml, built once per test run and
 * shared): it passes every check that applies, and copies of it with one planted defect each fail
 * exactly the check that should catch it, naming the file. The shared layer is never modified:
 * each defect is planted in a hard-linked copy (cp -al) of its repository root, and a file a defect
 * changes in place is first replaced by a private copy (`own`), so the shared inode stays as it was.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type DevLayer, devLayer } from "../helpers/dev-layer.js";
import { tempDir } from "../helpers/prefix-layout.js";

const CLI = join(import.meta.dirname, "../../dist/cli/bin.js");

interface JsonReport {
  results: { id: string; status: string; evidence: { files?: string[]; found: string } }[];
  summary: { passed: number; failed: number; executed: number; ok: boolean };
}

function check(
  dev: DevLayer,
  root: string,
  ...extra: string[]
): { status: number; report: JsonReport; stderr: string } {
  const r = spawnSync(
    "node",
    [CLI, "check", dev.specFile, "--arch", dev.layer.arch, "--root", root, "--json", ...extra],
    {
      encoding: "utf8",
    },
  );
  return { status: r.status ?? -1, report: JSON.parse(r.stdout) as JsonReport, stderr: r.stderr };
}

let dev: DevLayer;
beforeAll(async () => {
  dev = await devLayer();
});

describe("the dev layer", () => {
  it("passes every check that applies, at least 10 of them", () => {
    const { status, report, stderr } = check(dev, dev.root);
    const failed = report.results.filter((r) => r.status === "fail");
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    expect(status, stderr).toBe(0);
    expect(report.summary.passed).toBeGreaterThanOrEqual(10);
  });

  it("writes JUnit XML a JUnit consumer loads (valid against junit-10.xsd)", () => {
    const t = tempDir();
    try {
      const file = join(t.dir, "junit.xml");
      check(dev, dev.root, "--junit", file);
      const xsd = join(import.meta.dirname, "../../src/checks/testdata/junit-10.xsd");
      expect(execFileSync("xmllint", ["--noout", "--schema", xsd, file], { stdio: "pipe" }).toString()).toBe(
        "",
      );
    } finally {
      t.cleanup();
    }
  });
});

/** Replace a hard-linked file by a private copy (same mode), so changing it leaves the shared layer alone. */
function own(path: string): string {
  const tmp = `${path}.own`;
  copyFileSync(path, tmp);
  chmodSync(tmp, statSync(path).mode & 0o7777);
  renameSync(tmp, path);
  return path;
}

/** A defect planted in a copy of the layer: what it does, which check must fail, which file it must name. */
interface Defect {
  name: string;
  plant: (prefixDir: string) => void;
  fails: string;
  names: (prefix: string) => string;
}

const libdir = "usr/lib/x86_64-linux-gnu";

const DEFECTS: Defect[] = [
  {
    name: "a removed library",
    plant: (p) => {
      for (const f of readdirSync(join(p, libdir)).filter((n) => n.startsWith("libmagic.so.1")))
        unlinkSync(join(p, libdir, f));
    },
    fails: "elf-libraries",
    names: (prefix) => `${prefix}/usr/bin/file`,
  },
  {
    name: "an RPATH pointing at the host",
    plant: (p) =>
      execFileSync("patchelf", ["--force-rpath", "--set-rpath", `/${libdir}`, own(join(p, "usr/bin/file"))]),
    fails: "elf-libraries",
    names: (prefix) => `${prefix}/usr/bin/file`,
  },
  {
    name: "a dangling link",
    plant: (p) => symlinkSync("libnothere.so.9", join(p, libdir, "libdangling.so")),
    fails: "symlinks",
    names: (prefix) => `${prefix}/${libdir}/libdangling.so`,
  },
  {
    name: "a setuid file",
    plant: (p) => chmodSync(own(join(p, "usr/bin/tar")), 0o4755),
    fails: "setuid",
    names: (prefix) => `${prefix}/usr/bin/tar`,
  },
  {
    name: "a device node",
    plant: (p) => {
      mkdirSync(join(p, "dev"), { recursive: true });
      execFileSync("mknod", [join(p, "dev/null"), "c", "1", "3"]);
    },
    fails: "special-files",
    names: (prefix) => `${prefix}/dev/null`,
  },
  {
    name: "a wrong host symlink",
    plant: (p) => {
      unlinkSync(join(p, "etc/passwd"));
      symlinkSync("/etc/shadow", join(p, "etc/passwd"));
    },
    fails: "host-symlinks",
    names: (prefix) => `${prefix}/etc/passwd`,
  },
  {
    name: "a package of the spec not installed",
    plant: (p) => {
      // dpkg forgets xz-utils, and the build record agrees (so only the package check can notice).
      const status = own(join(p, "var/lib/dpkg/status"));
      const stanzas = readFileSync(status, "utf8").split("\n\n");
      writeFileSync(status, stanzas.filter((s) => !s.startsWith("Package: xz-utils\n")).join("\n\n"));
      const reprod = join(p, "reprod");
      for (const r of readdirSync(reprod)) {
        const list = own(join(reprod, r, "packages.txt"));
        const lines = readFileSync(list, "utf8").split("\n");
        writeFileSync(list, lines.filter((l) => !l.startsWith("xz-utils:")).join("\n"));
      }
    },
    fails: "set-installed",
    names: (prefix) => `${prefix}/var/lib/dpkg/status`,
  },
];

describe("planted defects", () => {
  for (const d of DEFECTS) {
    it(`${d.name} fails ${d.fails} alone, naming the file`, () => {
      const t = tempDir("compat-defect-");
      try {
        const root = join(t.dir, dev.layer.repository);
        execFileSync("cp", ["-al", dev.root, root]);
        d.plant(join(root, dev.layer.prefixInRepository));
        const { status, report } = check(dev, root);
        const failed = report.results.filter((r) => r.status === "fail");
        expect(failed.map((r) => r.id)).toEqual([d.fails]);
        expect(failed[0]!.evidence.files).toContain(d.names(dev.prefix));
        expect(status).toBe(3);
      } finally {
        rmSync(t.dir, { recursive: true, force: true });
      }
    });
  }
});
