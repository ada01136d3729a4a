/**
 * Golden tests: for EESSI 2025.06 and 2026.06 on x86_64, every file compat plans equals what
 * EESSI's compatibility_layer role writes (fixtures in testdata/golden/, each line's source in
 * the SOURCES.md beside them), and so do the host links.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { planOf } from "../flavors/index.js";
import { importAnsible } from "./ansible/import.js";
import { loadSpec } from "./load.js";
import { resolveLayer } from "./resolve.js";
import type { LayerSpec } from "./schema.js";

const golden = join(import.meta.dirname, "testdata/golden");
const eessi = join(import.meta.dirname, "../../../shared/data/eessi");
const read = (path: string) => ({ text: readFileSync(join(eessi, path), "utf8"), file: path });

function filesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function expectedLinks(version: string): Array<{ path: string; plain: string; final: string }> {
  return readFileSync(join(golden, `${version}-x86_64/host-symlinks.tsv`), "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [path, plain, final] = l.split("\t") as [string, string, string];
      return { path, plain, final };
    });
}

function imported(version: string): LayerSpec {
  return importAnsible({
    defaults: read("compatibility-layer/defaults_main.yml"),
    vars: read(`compatibility-layer/vars_${version}.yml`),
    filesystemLayer: read("filesystem-layer/create_cvmfs_content_structure_vars_software.eessi.io.yml"),
  }).spec;
}

function expectGolden(spec: LayerSpec, version: string): void {
  const plan = planOf(resolveLayer(spec, "x86_64"));
  const planned = Object.fromEntries(Object.entries(plan.files).map(([p, f]) => [p, f.content]));
  expect(planned).toEqual(filesUnder(join(golden, `${version}-x86_64/prefix`)));
  expect(plan.hostSymlinks.map(({ path, plain, final }) => ({ path, plain, final }))).toEqual(
    expectedLinks(version),
  );
}

describe("golden: planned files equal what EESSI's role writes", () => {
  for (const version of ["2025.06", "2026.06"]) {
    it(`${version} x86_64, imported from the role's variables`, () => {
      expectGolden(imported(version), version);
    });
  }

  it("2025.06 x86_64, from examples/eessi-2025.06.yaml", async () => {
    const { spec } = await loadSpec(join(import.meta.dirname, "../../examples/eessi-2025.06.yaml"));
    expectGolden(spec, "2025.06");
  });

  it("gives byte-identical plan JSON on two runs", () => {
    const a = JSON.stringify(planOf(resolveLayer(imported("2026.06"), "x86_64")));
    const b = JSON.stringify(planOf(resolveLayer(imported("2026.06"), "x86_64")));
    expect(a).toBe(b);
  });
});
