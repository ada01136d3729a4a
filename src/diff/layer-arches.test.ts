import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  makeDebianArchLayer,
  makeGentooArchLayer,
  packArchLayer,
  prefixOf,
} from "../../test/helpers/arch-layers.js";
import { createContext } from "../checks/context.js";
import { targetFromPrefix } from "../checks/prefix-target.js";
import { reportJson } from "../checks/report.js";
import { runChecks } from "../checks/runner.js";
import { InputError, ValidationError } from "../errors.js";
import { type ArchLayer, layerArchDiff, openArchLayer, readCheckReport } from "./layer-arches.js";

const BASE: Array<[string, string] | [string, string, string]> = [
  ["bash", "5.2.15-2+b7"],
  ["libc6", "2.36-9+deb12u4"],
  ["python3.11", "3.11.2-6+deb12u1"],
  ["tzdata", "2024a-0+deb12u1", "all"],
];

async function open(...sources: string[]): Promise<ArchLayer[]> {
  const out: ArchLayer[] = [];
  for (const s of sources) out.push(await openArchLayer(s));
  return out;
}

describe("built layers of several arches", () => {
  const root = mkdtempSync(join(tmpdir(), "compat-arches-"));
  const x86 = makeDebianArchLayer(root, "x86_64", [
    ...BASE,
    ["libpsm2-2", "11.2.185-2"],
    ["libc6", "2.36-9+deb12u4", "i386"],
  ]);
  const arm = makeDebianArchLayer(root, "aarch64", BASE);
  const rv = makeDebianArchLayer(root, "riscv64", [
    ...BASE.filter(([n]) => n !== "python3.11"),
    ["python3.11", "3.11.2-6+deb12u2"],
  ]);

  it("lists packages on some arches only and packages in different versions (dpkg, native and multiarch)", async () => {
    const d = layerArchDiff(await open(x86, arm, rv));
    expect(d.packages).toEqual({
      database: "dpkg",
      arches: ["x86_64", "aarch64", "riscv64"],
      common: 3,
      archSpecific: [
        {
          name: "libc6:i386",
          on: ["x86_64"],
          missingOn: ["aarch64", "riscv64"],
          values: { x86_64: "2.36-9+deb12u4" },
        },
        {
          name: "libpsm2-2",
          on: ["x86_64"],
          missingOn: ["aarch64", "riscv64"],
          values: { x86_64: "11.2.185-2" },
        },
      ],
      differing: [
        {
          name: "python3.11",
          values: { x86_64: "3.11.2-6+deb12u1", aarch64: "3.11.2-6+deb12u1", riscv64: "3.11.2-6+deb12u2" },
        },
      ],
    });
    expect(d.layers.map((l) => [l.arch, l.kind, l.stack, l.version, l.flavor, l.packages])).toEqual([
      ["x86_64", "prefix", "dev", "2025.06", "debian", 6],
      ["aarch64", "prefix", "dev", "2025.06", "debian", 4],
      ["riscv64", "prefix", "dev", "2025.06", "debian", 4],
    ]);
    expect(d.checks).toBeNull();
  });

  it("reads EESSI's gentoo layers (vardbs of the real sets): opa-psm2 on x86_64 only, a version apart", async () => {
    const g = mkdtempSync(join(tmpdir(), "compat-arches-gentoo-"));
    const layers = await open(
      makeGentooArchLayer(g, "2025.06", "x86_64"),
      makeGentooArchLayer(g, "2025.06", "aarch64"),
      makeGentooArchLayer(g, "2025.06", "riscv64", (cp) => (cp === "sys-apps/dbus" ? "1.16.2" : "1.0")),
    );
    const d = layerArchDiff(layers);
    expect(d.packages.database).toBe("vardb");
    expect(d.packages.archSpecific.map((i) => `${i.name} ${i.on.join(",")} ${i.values.x86_64}`)).toEqual([
      "sys-fabric/opa-psm2:0 x86_64 12.0.1",
    ]);
    expect(d.packages.differing).toEqual([
      { name: "sys-apps/dbus:0", values: { x86_64: "1.0", aarch64: "1.0", riscv64: "1.16.2" } },
    ]);
    expect(d.packages.common).toBe(20);
  });

  describe("artifacts", () => {
    const out = mkdtempSync(join(tmpdir(), "compat-arches-out-"));
    const artifacts: Record<string, string> = {};
    beforeAll(async () => {
      artifacts.x86 = await packArchLayer(x86, out, { stack: "dev", version: "2025.06", arch: "x86_64" });
      artifacts.arm = await packArchLayer(arm, out, { stack: "dev", version: "2025.06", arch: "aarch64" });
    });

    it("gives the same answer from artifacts (verified, packages from their own dpkg database) as from prefixes", async () => {
      const fromArtifacts = layerArchDiff(await open(artifacts.x86!, artifacts.arm!));
      const fromPrefixes = layerArchDiff(await open(x86, arm));
      expect(fromArtifacts.packages).toEqual(fromPrefixes.packages);
      expect(fromArtifacts.layers.map((l) => l.kind)).toEqual(["artifact", "artifact"]);
      // a prefix and an artifact mix
      expect(layerArchDiff(await open(artifacts.x86!, rv)).packages.archSpecific.length).toBe(2);
    });

    it("refuses an artifact whose manifest lists other packages than its database (exit 3)", async () => {
      const copy = join(out, "edited");
      mkdirSync(copy);
      const name = artifacts.arm!.split("/").pop()!;
      writeFileSync(join(copy, name), readFileSync(artifacts.arm!));
      const manifest = JSON.parse(readFileSync(`${artifacts.arm}.manifest.json`, "utf8"));
      manifest.packages = manifest.packages.filter((p: { name: string }) => p.name !== "bash");
      writeFileSync(join(copy, `${name}.manifest.json`), JSON.stringify(manifest));
      const e = await openArchLayer(join(copy, name)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ValidationError);
      expect(String(e)).toMatch(/its manifest's packages are not those of its dpkg database/);
      expect((e as ValidationError).details).toContain(
        "in the artifact, not in the manifest: bash:arm64=5.2.15-2+b7",
      );
    });

    it("refuses a manifest whose flavor is not the database's", async () => {
      const copy = join(out, "flavor");
      mkdirSync(copy);
      const name = artifacts.arm!.split("/").pop()!;
      writeFileSync(join(copy, name), readFileSync(artifacts.arm!));
      const manifest = JSON.parse(readFileSync(`${artifacts.arm}.manifest.json`, "utf8"));
      writeFileSync(join(copy, `${name}.manifest.json`), JSON.stringify({ ...manifest, flavor: "gentoo" }));
      await expect(openArchLayer(join(copy, name))).rejects.toThrow(
        /flavor "gentoo", but the layer's package database is dpkg \(debian\)/,
      );
    });

    it("refuses an artifact without its manifest, and a corrupt one (exit 3)", async () => {
      const lone = join(out, "lone");
      mkdirSync(lone);
      const name = artifacts.arm!.split("/").pop()!;
      writeFileSync(join(lone, name), readFileSync(artifacts.arm!));
      await expect(openArchLayer(join(lone, name))).rejects.toThrow(/no manifest beside it/);
      const bytes = readFileSync(artifacts.arm!);
      const cut = join(out, "cut");
      mkdirSync(cut);
      writeFileSync(join(cut, name), bytes.subarray(0, bytes.length >> 1));
      writeFileSync(join(cut, `${name}.manifest.json`), readFileSync(`${artifacts.arm}.manifest.json`));
      const e = await openArchLayer(join(cut, name)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ValidationError);
      expect(String(e)).toMatch(/rejected while reading it/);
    });
  });

  describe("check results", () => {
    async function reportFile(prefix: string, name: string): Promise<string> {
      const report = await runChecks(createContext(await targetFromPrefix(prefix)));
      const file = join(root, `${name}.json`);
      writeFileSync(file, JSON.stringify(reportJson(report)));
      return file;
    }

    it("lists the checks whose result differs, with what each arch found", async () => {
      const r = mkdtempSync(join(tmpdir(), "compat-arches-checks-"));
      const a = makeDebianArchLayer(r, "x86_64", BASE);
      const b = makeDebianArchLayer(r, "aarch64", BASE);
      writeFileSync(join(b, "etc/open-to-all"), "x\n");
      chmodSync(join(b, "etc/open-to-all"), 0o666);
      const reports = [
        await readCheckReport(await reportFile(a, "x")),
        await readCheckReport(await reportFile(b, "a")),
      ];
      const d = layerArchDiff(await open(a, b), reports);
      expect(d.checks).not.toBeNull();
      const ww = d.checks!.differing.find((c) => c.name === "world-writable");
      expect(ww).toEqual({ name: "world-writable", values: { x86_64: "pass", aarch64: "fail" } });
      expect(d.checks!.found["world-writable"]!.aarch64).toMatch(/1/);
      expect(d.checks!.common).toBeGreaterThan(3);
      expect(d.layers.map((l) => l.checkReport)).toEqual([reports[0]!.file, reports[1]!.file]);
    });

    it("refuses a report of no compared arch, two of one arch, a single one, and a file that is not one", async () => {
      const x = await readCheckReport(await reportFile(x86, "x86"));
      const a = await readCheckReport(await reportFile(arm, "arm"));
      const layers = await open(x86, arm);
      const noArm = await open(x86, rv);
      expect(() => layerArchDiff(noArm, [x, a])).toThrow(
        /a report on aarch64 .*no layer of that arch is compared/,
      );
      expect(() => layerArchDiff(layers, [x, x])).toThrow(/two check reports on x86_64/);
      expect(() => layerArchDiff(layers, [x])).toThrow(/one check report given/);
      const bad = join(root, "bad.json");
      writeFileSync(bad, JSON.stringify({ target: { arch: "x86_64" }, results: "none" }));
      await expect(readCheckReport(bad)).rejects.toThrow(/not a check report/);
      await expect(readCheckReport(join(root, "missing.json"))).rejects.toThrow(/no such file/);
      const good = JSON.parse(readFileSync(x.file, "utf8"));
      writeFileSync(bad, JSON.stringify({ ...good, target: { ...good.target, arch: "x86-64" } }));
      const refusal = () =>
        readCheckReport(bad).then(
          () => "read",
          (e: InputError) => `${e.message}\n${e.details.join("\n")}`,
        );
      expect(await refusal()).toContain(
        'not a check report\ntarget.arch: "x86-64" is not an arch (expected one of x86_64, aarch64, riscv64, ppc64le)',
      );
      writeFileSync(bad, JSON.stringify({ ...good, results: [] }));
      expect(await refusal()).toMatch(/not a check report\nresults: no check results/);
      writeFileSync(bad, JSON.stringify({ ...good, target: { ...good.target, flavor: "gentoo" } }));
      const gentooReport = await readCheckReport(bad);
      expect(() => layerArchDiff(layers, [gentooReport, a])).toThrow(/a report on a gentoo layer/);
      await expect(readCheckReport(root)).rejects.toThrow(/not a regular file|EISDIR/);
    });
  });

  describe("what is not one layer per arch of one version", () => {
    it("refuses one layer, two of one arch, mixed flavors, versions and stacks, naming each layer", async () => {
      const err = async (sources: string[], re: RegExp) => {
        const e = await open(...sources).then(
          (l) => {
            try {
              layerArchDiff(l);
              return undefined;
            } catch (x) {
              return x;
            }
          },
          (x: unknown) => x,
        );
        expect(e).toBeInstanceOf(InputError);
        expect(`${(e as InputError).message}\n${(e as InputError).details.join("\n")}`).toMatch(re);
      };
      await err([x86], /one layer given .*nothing to compare across arches/);
      const other = mkdtempSync(join(tmpdir(), "compat-arches-other-"));
      const x86b = makeDebianArchLayer(other, "x86_64", BASE);
      await err([x86, x86b], /two layers of x86_64: .* and /);
      const g = makeGentooArchLayer(other, "2025.06", "aarch64");
      await err([x86, g], /different flavors[\s\S]*debian \(dpkg\)[\s\S]*gentoo \(vardb\)/);
      const old = makeDebianArchLayer(other, "riscv64", BASE, { version: "2023.06" });
      await err([x86, old], /different versions[\s\S]*version 2025\.06[\s\S]*version 2023\.06/);
      const eessi = makeDebianArchLayer(mkdtempSync(join(tmpdir(), "compat-arches-s-")), "riscv64", BASE, {
        stack: "eessi",
      });
      await err([x86, eessi], /different stacks/);
    });

    it("refuses what is not a layer, and a layer whose database is of another arch than it claims", async () => {
      const other = mkdtempSync(join(tmpdir(), "compat-arches-bad-"));
      await expect(openArchLayer(join(other, "nothing"))).rejects.toThrow(/no such file or directory/);
      mkdirSync(join(other, "empty"));
      await expect(openArchLayer(join(other, "empty"))).rejects.toThrow(/not a compatibility layer/);
      writeFileSync(join(other, "notes.txt"), "hello\n");
      await expect(openArchLayer(join(other, "notes.txt"))).rejects.toThrow(
        /not a layer \(neither a directory nor an artifact/,
      );
      writeFileSync(join(other, "x.tar.zst"), "hello\n");
      await expect(openArchLayer(join(other, "x.tar.zst"))).rejects.toThrow(/not an artifact name/);
      const liar = makeDebianArchLayer(other, "aarch64", BASE, { debArch: "amd64" });
      await expect(openArchLayer(liar)).rejects.toThrow(
        /a layer of aarch64 by its path, but its dpkg database holds amd64 packages, none of arm64/,
      );
      const moved = makeDebianArchLayer(mkdtempSync(join(tmpdir(), "compat-arches-m-")), "riscv64", BASE);
      const record = join(moved, "reprod/20250611_093012UTC/build.json");
      writeFileSync(record, readFileSync(record, "utf8").replace('"arch": "riscv64"', '"arch": "aarch64"'));
      await expect(openArchLayer(moved)).rejects.toThrow(
        /its build record .* says arch aarch64, its path says riscv64/,
      );
      writeFileSync(
        record,
        readFileSync(record, "utf8")
          .replace('"arch": "aarch64"', '"arch": "riscv64"')
          .replace('"stack": "dev"', '"stack": "dev\\u001b[2J"'),
      );
      await expect(openArchLayer(moved)).rejects.toThrow(
        /its build record's stack "dev\\u001b\[2J" is not a stack name/,
      );
    });

    it("refuses a delta artifact", async () => {
      expect(prefixOf("/r", "1", "x86_64")).toBe("/r/versions/1/compat/linux/x86_64");
      const other = mkdtempSync(join(tmpdir(), "compat-arches-delta-"));
      const delta = join(other, "dev-2025.06-compat-linux-x86_64-1750000000.delta.tar.zst");
      writeFileSync(delta, "");
      await expect(openArchLayer(delta)).rejects.toThrow(/a delta artifact carries only what changed/);
    });
  });
});
