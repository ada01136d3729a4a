import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compat, projectRoot } from "../helpers/cli.js";

const role = join(projectRoot, "../shared/data/eessi/compatibility-layer");
const filesystemLayer = join(
  projectRoot,
  "../shared/data/eessi/filesystem-layer/create_cvmfs_content_structure_vars_software.eessi.io.yml",
);
const broken = join(projectRoot, "src/spec/ansible/testdata/broken-vars.yml");

describe("compat import-ansible", () => {
  const dir = mkdtempSync(join(tmpdir(), "compat-import-"));

  for (const version of ["2023.06", "2025.06", "2026.06"]) {
    it(`imports ${version} into a spec that plans for x86_64, aarch64 and riscv64`, () => {
      const spec = join(dir, `eessi-${version}.yaml`);
      const r = compat([
        "import-ansible",
        join(role, "defaults_main.yml"),
        join(role, `vars_${version}.yml`),
        "--filesystem-layer",
        filesystemLayer,
        "-o",
        spec,
      ]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe("");
      expect(readFileSync(spec, "utf8")).toMatch(/^# EESSI compatibility layer/);
      for (const arch of ["x86_64", "aarch64", "riscv64"]) {
        const p = compat(["plan", spec, "--arch", arch, "--json"]);
        expect(p.status).toBe(0);
        const plan = JSON.parse(p.stdout);
        expect(plan.prefix).toBe(`/cvmfs/software.eessi.io/versions/${version}/compat/linux/${arch}`);
        expect(plan.stages.length).toBeGreaterThan(5);
        expect(plan.sets.length + plan.packages.length).toBeGreaterThan(0);
        expect(Object.keys(plan.files)).toContain("etc/portage/repos.conf/gentoo.conf");
        for (const path of Object.keys(plan.files)) expect(path).not.toMatch(/\{\{|\}\}|\{%|%\}/);
      }
      const again = compat(["plan", spec, "--arch", "x86_64", "--json"]);
      expect(again.stdout).toBe(compat(["plan", spec, "--arch", "x86_64", "--json"]).stdout);
    });
  }

  it("prints the spec on stdout and the warnings on stderr", () => {
    const r = compat(["import-ansible", join(role, "defaults_main.yml"), join(role, "vars_2025.06.yml")]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('version: "2025.06"');
    expect(r.stderr).toMatch(
      /warn: .*vars_2025\.06\.yml:6:7 overlay eessi has no pinned commit.*not reproducible/,
    );
  });

  it("takes VARS DEFAULTS given the other way round in the right order, and says so", () => {
    const r = compat(["import-ansible", join(role, "vars_2025.06.yml"), join(role, "defaults_main.yml")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      compat(["import-ansible", join(role, "defaults_main.yml"), join(role, "vars_2025.06.yml")]).stdout,
    );
    expect(r.stdout).toContain('version: "2025.06"');
    expect(r.stderr).toMatch(
      /warn: .*defaults_main\.yml is the role's defaults\/main\.yml .* given the other way round/,
    );
  });

  it("exits 2 on variables it cannot import and leaves an existing -o file untouched", () => {
    const out = join(dir, "kept.yaml");
    writeFileSync(out, "# my spec\n");
    const r = compat(["import-ansible", join(role, "defaults_main.yml"), broken, "-o", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/broken-vars\.yml:8:33 package_sets\[0\]: unsupported filter "ternary"/);
    expect(r.stderr).toMatch(/broken-vars\.yml:12:21 prefix_mask_packages: file contents/);
    expect(readFileSync(out, "utf8")).toBe("# my spec\n");
  });

  it("refuses an unknown arch in --arches and writes nothing", () => {
    const out = join(dir, "never.yaml");
    const r = compat([
      "import-ansible",
      join(role, "defaults_main.yml"),
      join(role, "vars_2026.06.yml"),
      "--arches",
      "x86_64,x86-64",
      "-o",
      out,
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--arches: x86-64 not an architecture");
    expect(r.stderr).toContain("did you mean x86-64 → x86_64?");
    expect(existsSync(out)).toBe(false);
  });
});

describe("compat --help", () => {
  it("lists only commands that work", () => {
    const r = compat(["--help"]);
    expect(r.status).toBe(0);
    const listed = [...r.stdout.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)]
      .map((m) => m[1]!)
      .filter((c) => c !== "help");
    expect(listed).toEqual(expect.arrayContaining(["plan", "import-ansible"]));
    for (const command of listed) {
      const h = compat([command, "--help"]);
      expect(h.status, `${command} --help`).toBe(0);
      expect(h.stdout).toContain(`Usage: compat ${command}`);
    }
  });
});
