/**
 * `compat diff --arches` on hostile input (review of integ4): a checkout whose etc/portage/sets
 * links out of --sets, sets that name each other deep or many times over, a check report that
 * reports one check twice or very many checks, an artifact whose dpkg status is a link, and
 * layers or specs with nothing to compare. Each is a clear InputError/ValidationError (exit 2/3),
 * never a wrong "the same" and never an internal error.
 */
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeDebianArchLayer, packArchLayer } from "../../test/helpers/arch-layers.js";
import { InputError, ValidationError } from "../errors.js";
import { setAtoms } from "../flavors/gentoo/arch-diff.js";
import { layerArchDiff, openArchLayer, readCheckReport } from "./layer-arches.js";
import { setFilesIn } from "./set-files.js";
import type { SetFiles } from "./spec-arches.js";

const work = mkdtempSync(join(tmpdir(), "compat-diff-hostile-"));

/** Set files held in memory, counting reads. */
function memorySets(files: Record<string, string>): SetFiles & { reads: number } {
  const s = {
    where: "mem",
    reads: 0,
    read(name: string) {
      s.reads++;
      return Object.hasOwn(files, name) ? { file: `mem/${name}`, text: files[name]! } : undefined;
    },
  };
  return s;
}

describe("--sets", () => {
  it("refuses a checkout whose etc/portage/sets links out of DIR (no file there is read as a set)", () => {
    const dir = join(work, "checkout");
    mkdirSync(join(dir, "etc/portage"), { recursive: true });
    symlinkSync("/proc/self", join(dir, "etc/portage/sets"));
    expect(() => setFilesIn(dir)).toThrow(InputError);
    expect(() => setFilesIn(dir)).toThrow(/link out of it/);
  });

  it("reads a set named many times over once, and each atom once", () => {
    const files: Record<string, string> = { top: "@d0\n@d0\n" };
    for (let i = 0; i < 40; i++) files[`d${i}`] = `@d${i + 1}\n@d${i + 1}\n=sys-apps/a${i}-1\n`;
    files.d40 = "sys-apps/last\n";
    const sets = memorySets(files);
    const atoms = setAtoms(sets, "top", "x86_64");
    expect(atoms).toHaveLength(41);
    expect(sets.reads).toBe(42);
  });

  it("refuses sets nested deeper than any overlay nests them (an InputError, not a stack overflow)", () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20_000; i++) files[`s${i}`] = `@s${i + 1}\n`;
    files.s20000 = "sys-apps/foo\n";
    expect(() => setAtoms(memorySets(files), "s0", "x86_64")).toThrow(InputError);
    expect(() => setAtoms(memorySets(files), "s0", "x86_64")).toThrow(/nested more than/);
  });

  it("still names a cycle", () => {
    expect(() => setAtoms(memorySets({ a: "@b\n", b: "@a\n" }), "a", "x86_64")).toThrow(/includes itself/);
  });
});

describe("layers", () => {
  const base: Array<[string, string]> = [
    ["libc6", "2.36-9"],
    ["openssl", "3.0.11-1"],
  ];
  function report(arch: string, results: Array<{ id: string; status: string }>): string {
    const file = join(work, `report-${arch}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        target: { prefix: "/x", flavor: "debian", arch },
        results: results.map((r) => ({ ...r, title: r.id, evidence: { found: r.status } })),
      }),
    );
    return file;
  }

  it("refuses a report with two results for one check (a fail hidden by a later pass)", async () => {
    const file = report("x86_64", [
      { id: "world-writable", status: "fail" },
      { id: "world-writable", status: "pass" },
    ]);
    await expect(readCheckReport(file)).rejects.toThrow(/world-writable reported more than once/);
  });

  it("names what each arch found for each check that differs", async () => {
    const root = mkdtempSync(join(work, "found-"));
    const layers = [
      await openArchLayer(makeDebianArchLayer(root, "x86_64", base)),
      await openArchLayer(makeDebianArchLayer(root, "aarch64", base)),
    ];
    const reports = [
      await readCheckReport(
        report("x86_64", [
          { id: "a", status: "pass" },
          { id: "b", status: "fail" },
        ]),
      ),
      await readCheckReport(
        report("aarch64", [
          { id: "b", status: "pass" },
          { id: "c", status: "skip" },
        ]),
      ),
    ];
    const d = layerArchDiff(layers, reports);
    expect(d.checks!.found).toEqual({
      a: { x86_64: "pass" },
      b: { x86_64: "fail", aarch64: "pass" },
      c: { aarch64: "skip" },
    });
  });

  it("refuses layers whose package databases list nothing (zero compared is not 'the same')", async () => {
    const root = mkdtempSync(join(work, "empty-"));
    const layers = [
      await openArchLayer(makeDebianArchLayer(root, "x86_64", [])),
      await openArchLayer(makeDebianArchLayer(root, "aarch64", [])),
    ];
    expect(() => layerArchDiff(layers)).toThrow(/nothing to compare/);
  });

  it("refuses an artifact whose dpkg status is a link (its manifest's list would go unchecked)", async () => {
    const root = mkdtempSync(join(work, "link-"));
    const out = join(root, "out");
    const artifacts: string[] = [];
    for (const arch of ["x86_64", "aarch64"] as const) {
      const prefix = makeDebianArchLayer(root, arch, base);
      const status = join(prefix, "var/lib/dpkg/status");
      renameSync(status, `${status}.real`);
      symlinkSync("status.real", status);
      artifacts.push(await packArchLayer(prefix, out, { stack: "dev", version: "2025.06", arch }));
    }
    // the manifest says another openssl on aarch64: without the status read, "the same" would hide it
    const manifest = `${artifacts[1]}.manifest.json`;
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace('"3.0.11-1"', '"3.0.13-1"'));
    await expect(openArchLayer(artifacts[1]!)).rejects.toThrow(ValidationError);
    await expect(openArchLayer(artifacts[1]!)).rejects.toThrow(/is a symlink, not dpkg's database file/);
  });
  it("refuses a prefix whose dpkg status is a FIFO, and reads past a build record that is one (no hang)", async () => {
    const root = mkdtempSync(join(work, "fifo-"));
    const x86 = makeDebianArchLayer(root, "x86_64", base);
    const status = join(x86, "var/lib/dpkg/status");
    rmSync(status);
    execFileSync("mkfifo", [status]);
    await expect(openArchLayer(x86)).rejects.toThrow(
      /cannot read dpkg's status database \(not a regular file\)/,
    );
    const arm = makeDebianArchLayer(root, "aarch64", base);
    const record = join(arm, "reprod/20991231_000000UTC/build.json");
    mkdirSync(join(record, ".."), { recursive: true });
    execFileSync("mkfifo", [record]);
    const layer = await openArchLayer(arm);
    expect(layer.packages).toHaveLength(2);
  });
  it("refuses an artifact or a manifest that is a FIFO (no hang)", async () => {
    const root = mkdtempSync(join(work, "fifo-artifact-"));
    const out = join(root, "out");
    const artifact = await packArchLayer(makeDebianArchLayer(root, "x86_64", base), out, {
      stack: "dev",
      version: "2025.06",
      arch: "x86_64",
    });
    const manifest = `${artifact}.manifest.json`;
    rmSync(manifest);
    execFileSync("mkfifo", [manifest]);
    await expect(openArchLayer(artifact)).rejects.toThrow(/cannot read manifest .*not a regular file/);
    rmSync(manifest);
    rmSync(artifact);
    execFileSync("mkfifo", [artifact]);
    await expect(openArchLayer(artifact)).rejects.toThrow(/a FIFO, not an artifact file/);
  });
  it("refuses a report whose checked prefix is another layer's", async () => {
    const root = mkdtempSync(join(work, "other-report-"));
    const layers = [
      await openArchLayer(makeDebianArchLayer(root, "x86_64", base)),
      await openArchLayer(makeDebianArchLayer(root, "aarch64", base)),
    ];
    const file = join(work, "other-version.json");
    writeFileSync(
      file,
      JSON.stringify({
        target: { prefix: "/cvmfs/r/versions/2023.06/compat/linux/x86_64", flavor: "debian", arch: "x86_64" },
        results: [{ id: "a", title: "a", status: "pass", evidence: { found: "" } }],
      }),
    );
    const ok = report("aarch64", [{ id: "a", status: "pass" }]);
    const reports = [await readCheckReport(file), await readCheckReport(ok)];
    expect(() => layerArchDiff(layers, reports)).toThrow(/not on a layer of 2025.06\/compat\/linux\/x86_64/);
  });
});
