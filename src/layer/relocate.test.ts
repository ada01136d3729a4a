/**
 * Relocation of a small tree made from this machine's own binaries, with the real patchelf, then
 * run under bwrap at the real prefix path. (The full Debian tree is in test/integration.)
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { runInLayer } from "../exec/sandbox.js";
import { readElf } from "./elf.js";
import {
  assertRelocated,
  escapesRoot,
  formatRelocationReport,
  parseShebang,
  type RelocationReport,
  relocatedRpath,
  relocateTree,
  TreeResolver,
} from "./relocate.js";

const REPO = "relocate.test.example.org";
const PREFIX = `/cvmfs/${REPO}/versions/1/compat/linux/x86_64`;
const MULTIARCH = "/usr/lib/x86_64-linux-gnu";

const canRun =
  process.platform === "linux" &&
  process.arch === "x64" &&
  existsSync(`${MULTIARCH}/libc.so.6`) &&
  spawnSync("patchelf", ["--version"]).status === 0 &&
  spawnSync("bwrap", ["--version"]).status === 0;

describe("pure helpers", () => {
  it("builds the new DT_RPATH: $ORIGIN kept, absolute entries re-rooted, prefix dirs last", () => {
    const dirs = [`${PREFIX}/usr/lib/x86_64-linux-gnu`, `${PREFIX}/usr/lib`];
    expect(relocatedRpath({ runpath: "$ORIGIN:/usr/lib/x86_64-linux-gnu" }, PREFIX, dirs)).toBe(
      `$ORIGIN:${PREFIX}/usr/lib/x86_64-linux-gnu:${PREFIX}/usr/lib`,
    );
    expect(relocatedRpath({}, PREFIX, dirs)).toBe(dirs.join(":"));
    expect(relocatedRpath({ rpath: `${PREFIX}/opt/x` }, PREFIX, dirs)).toBe(
      `${PREFIX}/opt/x:${dirs.join(":")}`,
    );
  });

  it("parses shebangs", () => {
    expect(parseShebang(Buffer.from("#!/bin/sh -e\necho"))).toEqual({
      interpreter: "/bin/sh",
      rest: " -e",
      lineLength: 12,
    });
    expect(parseShebang(Buffer.from("#! /usr/bin/env python3\n"))?.interpreter).toBe("/usr/bin/env");
    expect(parseShebang(Buffer.from("echo\n"))).toBeUndefined();
    expect(parseShebang(Buffer.from("#!\n"))).toBeUndefined();
  });

  it("knows when a relative link climbs above the root", () => {
    expect(escapesRoot("etc", "../usr/bin")).toBe(false);
    expect(escapesRoot("etc", "../../usr/bin")).toBe(true);
    expect(escapesRoot(".", "../x")).toBe(true);
    expect(escapesRoot("a/b", "c/../../../x")).toBe(false);
  });
});

describe.skipIf(!canRun)("relocateTree on a tree of this machine's binaries", () => {
  let root: string;
  let tree: string;
  let report: RelocationReport;

  const put = (src: string, rel: string) => {
    mkdirSync(dirname(join(tree, rel)), { recursive: true });
    copyFileSync(src, join(tree, rel));
    chmodSync(join(tree, rel), lstatSync(src).mode & 0o7777);
  };
  const link = (target: string, rel: string) => {
    mkdirSync(dirname(join(tree, rel)), { recursive: true });
    symlinkSync(target, join(tree, rel));
  };
  const inLayer = (cmd: string[]) =>
    runInLayer({ root, repository: REPO }, cmd, { env: { PATH: "/usr/bin:/bin" } });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "relocate-"));
    tree = join(root, "versions/1/compat/linux/x86_64");
    mkdirSync(tree, { recursive: true });
    // usr-merged layout, as Debian's
    link("usr/bin", "bin");
    link("usr/lib", "lib");
    link("usr/lib64", "lib64");
    put(`${MULTIARCH}/ld-linux-x86-64.so.2`, "usr/lib64/ld-linux-x86-64.so.2");
    for (const lib of ["libc.so.6", "libgmp.so.10"])
      put(`${MULTIARCH}/${lib}`, `usr/lib/x86_64-linux-gnu/${lib}`);
    put("/usr/bin/true", "usr/bin/true");
    put("/usr/bin/expr", "usr/bin/expr"); // has RUNPATH=/usr/lib/x86_64-linux-gnu
    put("/usr/bin/dash", "usr/bin/dash");
    link("dash", "usr/bin/sh");
    linkSync(join(tree, "usr/bin/true"), join(tree, "usr/bin/true-hardlink"));
    // alternatives-style absolute links, resolved with the tree as root
    link("/etc/alternatives/awk", "usr/bin/awk");
    link("/usr/bin/dash", "etc/alternatives/awk");
    link("/proc/self/fd", "dev/fd");
    link("../../../../../../../../usr/bin/true", "usr/share/deep/escaping");
    link("../bin/true", "usr/sbin/relative-ok");
    writeFileSync(join(tree, "usr/bin/script"), '#!/bin/sh -e\necho script-ran "$0"\n', { mode: 0o755 });
    writeFileSync(join(tree, "usr/bin/awkscript"), "#!/usr/bin/awk -f\nBEGIN{}\n", { mode: 0o755 });
    writeFileSync(join(tree, "usr/bin/cshscript"), "#!/bin/csh\necho\n", { mode: 0o755 });
    writeFileSync(join(tree, "usr/share/not-executable"), "#!/bin/sh\n", { mode: 0o644 });
    writeFileSync(join(tree, "usr/bin/suid"), "data", { mode: 0o4755 });
    spawnSync("mknod", [join(tree, "dev/null"), "c", "1", "3"]);
    spawnSync("mkfifo", [join(tree, "run-fifo")]);
    report = await relocateTree({ treeDir: tree, prefix: PREFIX });
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("reports what it did", () => {
    expect(report.failed).toEqual([]);
    expect(report.rpath).toEqual([`${PREFIX}/usr/lib/x86_64-linux-gnu`, `${PREFIX}/usr/lib`]);
    // true, expr, dash get PT_INTERP; libc.so.6 has one too (it can be run); libgmp gets RPATH only.
    expect(report.elf).toEqual({
      objects: 6,
      executables: 4,
      libraries: 1,
      runpathsConverted: 1,
      leftAlone: 1,
    });
    expect(report.hardLinks).toBe(1);
    expect(report.shebangs.rewritten).toBe(2);
    expect(report.shebangs.unresolvable).toEqual([
      { path: "usr/bin/cshscript", reason: "interpreter /bin/csh is not in the tree" },
    ]);
    expect(report.symlinks).toEqual({ rewritten: 3, keptSystem: 1 });
    expect(report.removed).toEqual({
      deviceNodes: spawnSync("id", ["-u"]).stdout.toString().trim() === "0" ? 1 : 0,
      fifos: 1,
      sockets: 0,
    });
    expect(report.setidCleared).toEqual(["usr/bin/suid"]);
    expect(formatRelocationReport(report).join("\n")).toContain("shebang not relocated: usr/bin/cshscript");
  });

  it("sets PT_INTERP and DT_RPATH, turning RUNPATH into RPATH", async () => {
    const expr = await readElf(join(tree, "usr/bin/expr"));
    expect(expr?.interpreter).toBe(`${PREFIX}/lib64/ld-linux-x86-64.so.2`);
    expect(expr?.runpath).toBeUndefined();
    expect(expr?.rpath).toBe(`${PREFIX}/usr/lib/x86_64-linux-gnu:${PREFIX}/usr/lib`);
    const gmp = await readElf(join(tree, "usr/lib/x86_64-linux-gnu/libgmp.so.10"));
    expect(gmp?.rpath).toBe(report.rpath.join(":"));
    const ld = await readElf(join(tree, "usr/lib64/ld-linux-x86-64.so.2"));
    expect(ld?.rpath).toBeUndefined();
    // the hard link shares the patched inode
    expect(lstatSync(join(tree, "usr/bin/true-hardlink")).ino).toBe(
      lstatSync(join(tree, "usr/bin/true")).ino,
    );
  });

  it("re-points links and shebangs into the prefix", () => {
    expect(readlinkSync(join(tree, "usr/bin/awk"))).toBe(`${PREFIX}/etc/alternatives/awk`);
    expect(readlinkSync(join(tree, "etc/alternatives/awk"))).toBe(`${PREFIX}/usr/bin/dash`);
    expect(readlinkSync(join(tree, "usr/share/deep/escaping"))).toBe(`${PREFIX}/usr/bin/true`);
    expect(readlinkSync(join(tree, "usr/sbin/relative-ok"))).toBe("../bin/true");
    expect(readlinkSync(join(tree, "dev/fd"))).toBe("/proc/self/fd");
    expect(readlinkSync(join(tree, "bin"))).toBe("usr/bin");
    expect(readFileSync(join(tree, "usr/bin/script"), "utf8")).toBe(
      `#!${PREFIX}/bin/sh -e\necho script-ran "$0"\n`,
    );
    expect(readFileSync(join(tree, "usr/bin/awkscript"), "utf8").split("\n")[0]).toBe(
      `#!${PREFIX}/usr/bin/awk -f`,
    );
    expect(readFileSync(join(tree, "usr/share/not-executable"), "utf8")).toBe("#!/bin/sh\n");
    expect(existsSync(join(tree, "dev/null"))).toBe(false);
    expect(lstatSync(join(tree, "usr/bin/suid")).mode & 0o7777).toBe(0o755);
  });

  it("resolves paths with the tree as root", async () => {
    const r = new TreeResolver(tree, PREFIX);
    expect(await r.resolve("/usr/bin/awk")).toBe("/usr/bin/dash");
    expect(await r.resolve(`${PREFIX}/bin/sh`)).toBe("/usr/bin/dash");
    expect(await r.resolve("/bin/csh")).toBeUndefined();
  });

  it("changes nothing when run again (a resumed stage), and removes a new link a killed run left aside", async () => {
    // killed between making the new link of usr/bin/awk and renaming it over the old one
    symlinkSync(`${PREFIX}/etc/alternatives/awk`, join(tree, "usr/bin/awk.compat-relink-12345"));
    const before = await readElf(join(tree, "usr/bin/expr"));
    const again = await relocateTree({ treeDir: tree, prefix: PREFIX });
    expect(again.failed).toEqual([]);
    expect(again.shebangs.rewritten).toBe(0);
    expect(again.symlinks.rewritten).toBe(0);
    expect(again.setidCleared).toEqual([]);
    expect(await readElf(join(tree, "usr/bin/expr"))).toEqual(before);
    expect(readFileSync(join(tree, "usr/bin/script"), "utf8").split("\n")[0]).toBe(`#!${PREFIX}/bin/sh -e`);
    expect(existsSync(join(tree, "usr/bin/awk.compat-relink-12345"))).toBe(false);
    expect(readdirSync(join(tree, "usr/bin")).filter((n) => n.includes("compat-relink"))).toEqual([]);
  });

  it("runs at the prefix path with the prefix's loader and libraries only", async () => {
    // LD_DEBUG is set inside (bwrap itself is a host program and would report its own libraries)
    const r = await inLayer(["/usr/bin/env", "LD_DEBUG=libs", `${PREFIX}/usr/bin/expr`, "6", "*", "7"]);
    expect(r.stdout.trim()).toBe("42");
    const loaded = [...r.stderr.matchAll(/calling init: (\S+)/g)].map((m) => m[1]!);
    expect(loaded.length).toBeGreaterThanOrEqual(2);
    for (const so of loaded) expect(so.startsWith(`${PREFIX}/`), so).toBe(true);
    const s = await inLayer([`${PREFIX}/usr/bin/script`]);
    expect(s.stdout.trim()).toBe(`script-ran ${PREFIX}/usr/bin/script`);
  });
});

describe.runIf(canRun)("a relocation that leaves objects unpatched", () => {
  it("fails its stage naming them (here: an executable whose loader is not in the tree)", async () => {
    const tree = mkdtempSync(join(tmpdir(), "compat-relocate-missing-"));
    try {
      mkdirSync(join(tree, "usr/bin"), { recursive: true });
      mkdirSync(join(tree, MULTIARCH.slice(1)), { recursive: true });
      copyFileSync(`${MULTIARCH}/libc.so.6`, join(tree, MULTIARCH.slice(1), "libc.so.6"));
      copyFileSync("/usr/bin/true", join(tree, "usr/bin/true"));
      const report = await relocateTree({ treeDir: tree, prefix: PREFIX });
      // libc.so.6 runs as a program too: it names the same missing loader
      expect(report.failed.map((f) => f.path)).toEqual(["usr/bin/true", `${MULTIARCH.slice(1)}/libc.so.6`]);
      const err = (() => {
        try {
          assertRelocated(report, "runs/R/relocation.json");
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).message).toBe(`2 ELF object(s) could not be relocated into ${PREFIX}`);
      expect((err as ValidationError).details).toEqual([
        "usr/bin/true: interpreter /lib64/ld-linux-x86-64.so.2 is not in the tree",
        `${MULTIARCH.slice(1)}/libc.so.6: interpreter /lib64/ld-linux-x86-64.so.2 is not in the tree`,
      ]);
      // and a complete relocation passes
      expect(() => assertRelocated({ ...report, failed: [] }, "x")).not.toThrow();
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });
});
