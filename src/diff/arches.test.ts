import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Arch } from "../layer/id.js";
import { importAnsible } from "../spec/ansible/import.js";
import { parseSpec } from "../spec/load.js";
import { compareArches } from "./arches.js";
import { setFilesIn } from "./set-files.js";
import { specArchDiff } from "./spec-arches.js";

const data = join(import.meta.dirname, "../../../shared/data/eessi");
const role = join(data, "compatibility-layer");
const setsDir = join(data, "gentoo-overlay-sets");
const VERSIONS = ["2023.06", "2025.06", "2026.06"] as const;

function eessiSpec(version: string, arches?: Arch[]) {
  const read = (f: string) => ({ text: readFileSync(join(role, f), "utf8"), file: f });
  const { yaml } = importAnsible({
    defaults: read("defaults_main.yml"),
    vars: read(`vars_${version}.yml`),
    ...(arches ? { arches } : {}),
  });
  return parseSpec(yaml, `eessi-${version}.yaml`).spec;
}

/**
 * The oracle, read from EESSI's files without compat's code: for the versions built from sets, the
 * lines of each arch's set file; for 2026.06, prefix_packages with include_on / exclude_on.
 */
function archSpecificFromEessiFiles(version: string, arches: Arch[]): Map<string, string[]> {
  const perArch = new Map<Arch, Set<string>>();
  const nameOf = (atom: string) =>
    atom
      .replace(/^[<>=~]+/, "")
      .replace(/::.*$/, "")
      .replace(/-[0-9].*$/, "");
  const vars = parse(readFileSync(join(role, `vars_${version}.yml`), "utf8")) as {
    prefix_packages?: { name: string; include_on?: string[]; exclude_on?: string[] }[];
  };
  for (const arch of arches) {
    const names = new Set<string>();
    if (vars.prefix_packages)
      for (const p of vars.prefix_packages) {
        const osArch = `linux-${arch}`;
        if (p.include_on && !p.include_on.includes(osArch)) continue;
        if (p.exclude_on?.includes(osArch)) continue;
        names.add(p.name);
      }
    else
      for (const line of readFileSync(join(setsDir, `eessi-${version}-linux-${arch}`), "utf8").split("\n"))
        if (line.trim()) names.add(nameOf(line.trim()));
    perArch.set(arch, names);
  }
  const all = new Set([...perArch.values()].flatMap((s) => [...s]));
  const out = new Map<string, string[]>();
  for (const name of [...all].sort()) {
    const on = arches.filter((a) => perArch.get(a)!.has(name));
    if (on.length < arches.length) out.set(name, on);
  }
  return out;
}

describe("compareArches", () => {
  it("tells items some arches lack from items every arch has in another form", () => {
    const c = compareArches([
      {
        arch: "x86_64",
        items: new Map([
          ["a", "1"],
          ["b", "1"],
          ["c", "1"],
        ]),
      },
      {
        arch: "aarch64",
        items: new Map([
          ["a", "1"],
          ["b", "2"],
        ]),
      },
      {
        arch: "riscv64",
        items: new Map([
          ["a", "1"],
          ["b", "1"],
          ["d", "9"],
        ]),
      },
    ]);
    expect(c).toEqual({
      arches: ["x86_64", "aarch64", "riscv64"],
      common: 1,
      archSpecific: [
        { name: "c", on: ["x86_64"], missingOn: ["aarch64", "riscv64"], values: { x86_64: "1" } },
        { name: "d", on: ["riscv64"], missingOn: ["x86_64", "aarch64"], values: { riscv64: "9" } },
      ],
      differing: [{ name: "b", values: { x86_64: "1", aarch64: "2", riscv64: "1" } }],
    });
  });

  it("compares values with the caller's rule (versions equal by their database)", () => {
    const c = compareArches(
      [
        { arch: "x86_64", items: new Map([["p", "1.0"]]) },
        { arch: "aarch64", items: new Map([["p", "1.00"]]) },
      ],
      (a, b) => Number(a) === Number(b),
    );
    expect(c.common).toBe(1);
    expect(c.differing).toEqual([]);
  });
});

describe("what each arch of EESSI's imported specs gets", () => {
  for (const version of VERSIONS)
    it(`${version}: exactly the arch-specific packages its vars file (and sets) imply`, () => {
      const arches: Arch[] = ["x86_64", "aarch64", "riscv64"];
      const d = specArchDiff(eessiSpec(version), `eessi-${version}.yaml`, setFilesIn(setsDir));
      const expected = archSpecificFromEessiFiles(version, arches);
      expect(expected.size).toBeGreaterThan(0);
      expect(new Map(d.packages.archSpecific.map((i) => [i.name, i.on]))).toEqual(expected);
      // what EESSI's files say: the Omni-Path library is for x86_64 only, in every version
      expect(d.packages.archSpecific.map((i) => `${i.name} ${i.on.join(",")}`)).toEqual([
        "sys-fabric/opa-psm2 x86_64",
      ]);
      expect(d.packages.differing).toEqual([]);
      expect(d.packages.common).toBeGreaterThan(15);
      expect(d.arches).toEqual(arches);
    });

  it("2023.06 with ppc64le: its set lacks the LDAP and SSSD clients", () => {
    const arches: Arch[] = ["x86_64", "aarch64", "riscv64", "ppc64le"];
    const d = specArchDiff(eessiSpec("2023.06", arches), "eessi-2023.06.yaml", setFilesIn(setsDir));
    expect(new Map(d.packages.archSpecific.map((i) => [i.name, i.on]))).toEqual(
      archSpecificFromEessiFiles("2023.06", arches),
    );
    expect(d.packages.archSpecific.find((i) => i.name === "sys-auth/sssd")).toEqual({
      name: "sys-auth/sssd",
      on: ["x86_64", "aarch64", "riscv64"],
      missingOn: ["ppc64le"],
      values: {
        x86_64: "=sys-auth/sssd-2.8.2::eessi",
        aarch64: "=sys-auth/sssd-2.8.2::eessi",
        riscv64: "=sys-auth/sssd-2.8.2::eessi",
      },
    });
  });

  it("without the set files, a per-arch set is compared by name and says how to read it", () => {
    const d = specArchDiff(eessiSpec("2025.06"), "eessi-2025.06.yaml");
    expect(d.packages.differing).toEqual([
      {
        name: "@eessi-{version}-{os}-{arch}",
        values: {
          x86_64: "eessi-2025.06-linux-x86_64",
          aarch64: "eessi-2025.06-linux-aarch64",
          riscv64: "eessi-2025.06-linux-riscv64",
        },
      },
    ]);
    expect(d.perArch.every((c) => !c.setsRead && c.packages === 0)).toBe(true);
    expect(d.notes.join("\n")).toMatch(/compared by name.*--sets DIR/);
  });
});

describe("specs and set files that cannot be compared", () => {
  const base = (extra: string) =>
    parseSpec(
      `repository: software.example.org\nstack: ex\nversion: "1"\nflavor: gentoo\n${extra}gentoo:\n  repository: {commit: ${"a".repeat(40)}}\n  sets: ["ex-{arch}"]\n`,
      "ex.yaml",
    ).spec;
  const dir = mkdtempSync(join(tmpdir(), "compat-sets-"));
  const write = (name: string, text: string) => writeFileSync(join(dir, name), text);

  it("refuses a spec of one arch, naming the field", () => {
    expect(() => specArchDiff(base("arches: [x86_64]\n"), "ex.yaml")).toThrow(
      /ex\.yaml: arches: the spec lists one arch \(x86_64\)/,
    );
  });

  it("follows @set lines, and refuses a loop, a missing set, a bad name and a bad atom with where", () => {
    const spec = base("arches: [x86_64, aarch64]\n");
    write("ex-x86_64", "# x86\n@common\nsys-fabric/opa-psm2\n");
    write("ex-aarch64", "@common\n");
    write("common", "app-shells/bash  # the shell\n=dev-lang/python-3.12*\n");
    const d = specArchDiff(spec, "ex.yaml", setFilesIn(dir));
    expect(d.packages.archSpecific.map((i) => i.name)).toEqual(["sys-fabric/opa-psm2"]);
    expect(d.packages.common).toBe(2);
    expect(d.perArch[0]!.setFiles).toEqual([join(dir, "ex-x86_64"), join(dir, "common")]);

    write("common", "@ex-aarch64\n");
    expect(() => specArchDiff(spec, "ex.yaml", setFilesIn(dir))).toThrow(
      /set @common includes itself \(@ex-x86_64 → @common → @ex-aarch64 → @common\)/,
    );
    write("common", "@missing\n");
    expect(() => specArchDiff(spec, "ex.yaml", setFilesIn(dir))).toThrow(
      /the set @missing \(of x86_64\) is not in/,
    );
    write("common", "@../../etc/passwd\n");
    expect(() => specArchDiff(spec, "ex.yaml", setFilesIn(dir))).toThrow(
      /set name "\.\.\/\.\.\/etc\/passwd"/,
    );
    write("common", "not an atom!\n");
    expect(() => specArchDiff(spec, "ex.yaml", setFilesIn(dir))).toThrow(/common:1: .*more than one atom/);
    write("common", "sys-apps/\n");
    expect(() => specArchDiff(spec, "ex.yaml", setFilesIn(dir))).toThrow(
      /common:1: invalid atom "sys-apps\/"/,
    );
  });

  it("refuses a set file that links out of the directory, and a --sets that is not a directory", () => {
    const spec = base("arches: [x86_64, aarch64]\n");
    const outside = mkdtempSync(join(tmpdir(), "compat-outside-"));
    writeFileSync(join(outside, "secret"), "app-misc/secret\n");
    write("ex-aarch64", "app-shells/bash\n");
    symlinkSync(join(outside, "secret"), join(dir, "ex-x86_64-link"));
    write("ex-x86_64", "@ex-x86_64-link\n");
    expect(() => specArchDiff(spec, "ex.yaml", setFilesIn(dir))).toThrow(/ex-x86_64-link: a link out of/);
    expect(() => setFilesIn(join(dir, "ex-aarch64"))).toThrow(/--sets .*ex-aarch64: not a directory/);
  });

  it("reads an overlay checkout's etc/portage/sets/", () => {
    const overlay = mkdtempSync(join(tmpdir(), "compat-overlay-"));
    mkdirSync(join(overlay, "etc/portage/sets"), { recursive: true });
    writeFileSync(join(overlay, "etc/portage/sets/ex-x86_64"), "app-shells/bash\n");
    writeFileSync(join(overlay, "etc/portage/sets/ex-aarch64"), "app-shells/bash\n");
    const d = specArchDiff(base("arches: [x86_64, aarch64]\n"), "ex.yaml", setFilesIn(overlay));
    expect(d.packages).toMatchObject({ common: 1, archSpecific: [], differing: [] });
  });
});
