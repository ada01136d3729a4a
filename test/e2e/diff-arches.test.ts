/**
 * `compat diff --arches` as a user runs it: on the specs `compat import-ansible` makes from EESSI's
 * three vars files (with EESSI's real set files), and on layers of three arches (prefix trees whose
 * package databases say so, and artifacts packed from them) with reports of `compat check --json`.
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  EESSI_SETS,
  makeDebianArchLayer,
  makeGentooArchLayer,
  packArchLayer,
} from "../helpers/arch-layers.js";
import { compat, projectRoot } from "../helpers/cli.js";

const role = join(projectRoot, "../shared/data/eessi/compatibility-layer");
const dir = mkdtempSync(join(tmpdir(), "compat-diff-arches-"));

function importEessi(version: string): string {
  const spec = join(dir, `eessi-${version}.yaml`);
  const r = compat([
    "import-ansible",
    join(role, "defaults_main.yml"),
    join(role, `vars_${version}.yml`),
    "-o",
    spec,
  ]);
  expect(r.status, r.stderr).toBe(0);
  return spec;
}

/** Exit codes a user or a file can cause; never 70. */
function expectInputError(r: { status: number | null; stderr: string }, re: RegExp): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(re);
}

describe("compat diff --arches SPEC on EESSI's three imports", () => {
  for (const version of ["2023.06", "2025.06", "2026.06"])
    it(`${version}: lists sys-fabric/opa-psm2 as the one x86_64-only package`, () => {
      const spec = importEessi(version);
      const args = ["diff", "--arches", spec, ...(version === "2026.06" ? [] : ["--sets", EESSI_SETS])];
      const text = compat(args);
      expect(text.status, text.stderr).toBe(1);
      expect(text.stdout).toMatch(
        /sys-fabric\/opa-psm2\s+only on x86_64\s+=sys-fabric\/opa-psm2-[0-9.]+::eessi\s+—\s+—/,
      );
      const json = compat([...args, "--json"]);
      expect(json.status).toBe(1);
      const d = JSON.parse(json.stdout);
      expect(d.form).toBe("spec");
      expect(d.arches).toEqual(["x86_64", "aarch64", "riscv64"]);
      expect(d.packages.archSpecific.map((i: { name: string; on: string[] }) => [i.name, i.on])).toEqual([
        ["sys-fabric/opa-psm2", ["x86_64"]],
      ]);
      expect(d.packages.differing).toEqual([]);
    });

  it("without --sets, compares the per-arch set by name and says how to read its packages", () => {
    const r = compat(["diff", "--arches", join(dir, "eessi-2025.06.yaml")]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/@eessi-\{version\}-\{os\}-\{arch\}\s+differs\s+eessi-2025\.06-linux-x86_64/);
    expect(r.stdout).toMatch(/note: the package sets were compared by name.*--sets DIR/);
  });

  it("the dev spec: the same packages on every arch, riscv64's from another suite (exit 1)", () => {
    const r = compat(["diff", "--arches", "examples/dev.yaml"]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/Arch-specific packages \(0\), different on each arch \(12\)/);
    expect(r.stdout).toMatch(/python3 +differs +bookworm +bookworm +trixie/);
  });

  it("refuses a spec without arches, with one arch, --sets for a debian spec, and a set directory that is not one", () => {
    const none = join(dir, "no-arches.yaml");
    writeFileSync(
      none,
      'repository: software.example.org\nstack: ex\nversion: "1"\nflavor: debian\ndebian:\n  suite: bookworm\n',
    );
    expectInputError(compat(["diff", "--arches", none]), /no-arches\.yaml:1:1 arches: missing/);
    const one = join(dir, "one-arch.yaml");
    writeFileSync(
      one,
      'repository: software.example.org\nstack: ex\nversion: "1"\narches: [x86_64]\nflavor: debian\ndebian:\n  suite: bookworm\n',
    );
    expectInputError(
      compat(["diff", "--arches", one]),
      /one-arch\.yaml: arches: the spec lists one arch \(x86_64\)/,
    );
    expectInputError(
      compat(["diff", "--arches", "examples/dev.yaml", "--sets", EESSI_SETS]),
      /--sets: examples\/dev\.yaml is a debian-flavor spec/,
    );
    expectInputError(
      compat(["diff", "--arches", join(dir, "eessi-2025.06.yaml"), "--sets", join(dir, "nowhere")]),
      /--sets .*nowhere: not a directory/,
    );
    expectInputError(
      compat(["diff", "--arches", join(dir, "eessi-2025.06.yaml"), "--sets", dir]),
      /the set @eessi-2025\.06-linux-x86_64 \(of x86_64\) is not in/,
    );
  });
});

describe("compat diff --arches LAYER_A LAYER_B …", () => {
  const root = mkdtempSync(join(tmpdir(), "compat-diff-arches-layers-"));
  const base: Array<[string, string]> = [
    ["bash", "5.2.15-2+b7"],
    ["libc6", "2.36-9+deb12u4"],
    ["python3.11", "3.11.2-6+deb12u1"],
  ];
  const x86 = makeDebianArchLayer(root, "x86_64", [...base, ["libpsm2-2", "11.2.185-2"]]);
  const arm = makeDebianArchLayer(root, "aarch64", base);
  const rv = makeDebianArchLayer(root, "riscv64", [...base.slice(0, 2), ["python3.11", "3.11.2-6+deb12u2"]]);
  writeFileSync(join(rv, "etc/open-to-all"), "x\n");
  chmodSync(join(rv, "etc/open-to-all"), 0o666);

  it("lists packages of one arch only, other versions and check results that differ; --json for machines", async () => {
    const reports = [];
    for (const [prefix, name] of [
      [x86, "x86_64"],
      [rv, "riscv64"],
    ] as const) {
      const r = compat(["check", prefix, "--json"]);
      expect(r.status, r.stderr).not.toBe(70);
      const file = join(dir, `check-${name}.json`);
      writeFileSync(file, r.stdout);
      reports.push("--check-report", file);
    }
    const artifact = await packArchLayer(arm, join(dir, "out"), {
      stack: "dev",
      version: "2025.06",
      arch: "aarch64",
    });
    const text = compat(["diff", "--arches", x86, artifact, rv, ...reports]);
    expect(text.status, text.stderr).toBe(1);
    expect(text.stdout).toMatch(/libpsm2-2\s+only on x86_64\s+11\.2\.185-2\s+—\s+—/);
    expect(text.stdout).toMatch(
      /python3\.11\s+differs\s+3\.11\.2-6\+deb12u1\s+3\.11\.2-6\+deb12u1\s+3\.11\.2-6\+deb12u2/,
    );
    expect(text.stdout).toMatch(/world-writable\s+differs\s+pass\s+fail/);
    expect(text.stdout).toMatch(/note: check results not compared for aarch64/);
    const d = JSON.parse(compat(["diff", "--arches", x86, artifact, rv, ...reports, "--json"]).stdout);
    expect(d.form).toBe("layers");
    expect(d.layers.map((l: { arch: string; kind: string }) => `${l.arch}:${l.kind}`)).toEqual([
      "x86_64:prefix",
      "aarch64:artifact",
      "riscv64:prefix",
    ]);
    expect(d.packages.archSpecific.map((i: { name: string }) => i.name)).toEqual(["libpsm2-2"]);
    expect(d.checks.differing).toContainEqual({
      name: "world-writable",
      values: { x86_64: "pass", riscv64: "fail" },
    });
  });

  it("EESSI 2023.06 gentoo layers (vardbs of the real sets; two packed): the same x86_64-only package as the spec", async () => {
    const g = mkdtempSync(join(tmpdir(), "compat-diff-arches-gentoo-"));
    const out = join(g, "out");
    const x = makeGentooArchLayer(g, "2023.06", "x86_64");
    const a = await packArchLayer(makeGentooArchLayer(g, "2023.06", "aarch64"), out, {
      stack: "eessi",
      version: "2023.06",
      arch: "aarch64",
    });
    const r = await packArchLayer(makeGentooArchLayer(g, "2023.06", "riscv64"), out, {
      stack: "eessi",
      version: "2023.06",
      arch: "riscv64",
    });
    const res = compat(["diff", "--arches", r, x, a, "--json"]);
    expect(res.status, res.stderr).toBe(1);
    const d = JSON.parse(res.stdout);
    expect(d.layers.map((l: { arch: string; kind: string }) => `${l.arch}:${l.kind}`)).toEqual([
      "x86_64:prefix",
      "aarch64:artifact",
      "riscv64:artifact",
    ]);
    expect(d.packages.database).toBe("vardb");
    expect(d.packages.archSpecific).toEqual([
      {
        name: "sys-fabric/opa-psm2:0",
        on: ["x86_64"],
        missingOn: ["aarch64", "riscv64"],
        values: { x86_64: "11.2.205" },
      },
    ]);
    expect(d.packages.differing).toEqual([]);
    const fromSpec = JSON.parse(
      compat(["diff", "--arches", importEessi("2023.06"), "--sets", EESSI_SETS, "--json"]).stdout,
    );
    expect(fromSpec.packages.archSpecific.map((i: { name: string }) => `${i.name}:0`)).toEqual(
      d.packages.archSpecific.map((i: { name: string }) => i.name),
    );
  });

  it("exits 0 when the arches' layers hold the same packages", () => {
    const same = mkdtempSync(join(tmpdir(), "compat-diff-arches-same-"));
    const r = compat([
      "diff",
      "--arches",
      makeDebianArchLayer(same, "x86_64", base),
      makeDebianArchLayer(same, "aarch64", base),
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/the same on x86_64, aarch64\n\s+3 the same on every arch/);
  });

  it("shows a terminal escape from a hostile dpkg database as ?, not as an escape", () => {
    const evil = mkdtempSync(join(tmpdir(), "compat-diff-arches-evil-"));
    const r = compat([
      "diff",
      "--arches",
      makeDebianArchLayer(evil, "x86_64", [
        ["bash", "5.2\x1b[31mRED"],
        ["evil\x1b[2J", "1"],
      ]),
      makeDebianArchLayer(evil, "aarch64", [["bash", "5.2"]]),
    ]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).not.toContain("\x1b");
    expect(r.stdout).toMatch(/evil\?\[2J\s+only on x86_64/);
    expect(r.stdout).toMatch(/bash\s+differs\s+5\.2\?\[31mRED\s+5\.2/);
  });

  it("refuses a layer that is not one, one arch, two of one arch, mixed flavors or versions, with exit 2", () => {
    const other = mkdtempSync(join(tmpdir(), "compat-diff-arches-bad-"));
    expectInputError(compat(["diff", "--arches", x86, dir]), /not a compatibility layer/);
    expectInputError(compat(["diff", "--arches", x86]), /one layer given .*nothing to compare across arches/);
    expectInputError(
      compat(["diff", "--arches", x86, makeDebianArchLayer(other, "x86_64", base)]),
      /two layers of x86_64/,
    );
    expectInputError(
      compat(["diff", "--arches", x86, makeDebianArchLayer(other, "riscv64", base, { version: "2023.06" })]),
      /different versions[\s\S]*2025\.06[\s\S]*2023\.06/,
    );
    expectInputError(compat(["diff", "--arches", x86, "examples/dev.yaml"]), /a spec among layers/);
    expectInputError(
      compat(["diff", "--arches", x86, arm, "--files"]),
      /--files lists the paths of two layers/,
    );
    expectInputError(
      compat(["diff", "--arches", x86, arm, "--sets", EESSI_SETS]),
      /--sets reads the package sets of a spec/,
    );
    expectInputError(compat(["diff", x86]), /diff compares two layers: give A and B/);
    expectInputError(compat(["diff", x86, arm, rv]), /diff compares two layers, and 3 were given/);
  });
});
