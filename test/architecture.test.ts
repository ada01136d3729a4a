/**
 * The import rules of .dependency-cruiser.cjs (DESIGN.md "Architecture"), which `npm run deps` checks
 * on src/ as part of `npm test`: each rule fails on a tree that breaks it (planted in a scratch
 * project with src/'s layout, checked by the real dependency-cruiser with the project's config).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { projectRoot } from "./helpers/cli.js";

const CONFIG = join(projectRoot, ".dependency-cruiser.cjs");
const DEPCRUISE = join(projectRoot, "node_modules/.bin/depcruise");

function cruise(cwd: string) {
  const r = spawnSync(DEPCRUISE, ["src", "--config", CONFIG, "--output-type", "err"], {
    cwd,
    encoding: "utf8",
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A scratch project: tsconfig.json plus the given src/ files. */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "compat-arch-"));
  scratch.push(dir);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }),
  );
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}
const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

describe("architecture rules (dependency-cruiser)", () => {
  it("a tree that keeps them passes (the planted trees below differ from it by one import)", () => {
    const r = cruise(
      project({
        "src/cli/plan.ts": 'import { plan } from "../flavors/plan.js";\nexport const run = plan;\n',
        "src/flavors/plan.ts":
          'import { vercmp } from "../gentoo/version.js";\nexport const plan = vercmp;\n',
        "src/gentoo/version.ts": "export const vercmp = 1;\n",
      }),
    );
    expect(r.out).toMatch(/no dependency violations found \(3 modules/);
    expect(r.status).toBe(0);
  });

  const planted: [string, Record<string, string>][] = [
    [
      "no-cycles",
      {
        "src/artifacts/verify.ts": 'import { DIR } from "./delta.js";\nexport const verify = DIR;\n',
        "src/artifacts/delta.ts":
          'import { verify } from "./verify.js";\nexport const DIR = "x";\nexport const d = verify;\n',
      },
    ],
    [
      "no-cli-server-from-core",
      {
        "src/security/report.ts": 'import { style } from "../cli/output.js";\nexport const r = style;\n',
        "src/cli/output.ts": "export const style = 1;\n",
      },
    ],
    [
      "no-cli-server-from-core",
      {
        "src/update/gates.ts": 'import { app } from "../server/app.js";\nexport const g = app;\n',
        "src/server/app.ts": "export const app = 1;\n",
      },
    ],
    [
      "layer-imports-no-flavor",
      {
        "src/layer/installed.ts":
          'import { readVardb } from "../gentoo/vardb.js";\nexport const i = readVardb;\n',
        "src/gentoo/vardb.ts": "export const readVardb = 1;\n",
      },
    ],
    [
      "layer-imports-no-flavor",
      {
        "src/layer/paths.ts": 'import { flavor } from "../flavors/index.js";\nexport const p = flavor;\n',
        "src/flavors/index.ts": "export const flavor = 1;\n",
      },
    ],
    [
      "distro-libraries-stay-low",
      {
        "src/debian/status.ts": 'import { pack } from "../artifacts/pack.js";\nexport const s = pack;\n',
        "src/artifacts/pack.ts": "export const pack = 1;\n",
      },
    ],
    [
      "distro-libraries-stay-low",
      {
        "src/gentoo/vardb.ts": 'import { run } from "../pipeline/build.js";\nexport const v = run;\n',
        "src/pipeline/build.ts": "export const run = 1;\n",
      },
    ],
    [
      "flavors-import-no-checks",
      {
        "src/flavors/common.ts":
          'import { runCheckStage } from "../checks/stage.js";\nexport const c = runCheckStage;\n',
        "src/checks/stage.ts": "export const runCheckStage = 1;\n",
      },
    ],
    [
      "flavor-folders-through-the-registry",
      {
        "src/checks/suite/tools.ts":
          'import { gentooTools } from "../../flavors/gentoo/check-defaults.js";\nexport const t = gentooTools;\n',
        "src/flavors/gentoo/check-defaults.ts": "export const gentooTools = 1;\n",
      },
    ],
  ];
  for (const [rule, files] of planted)
    it(`fails on a planted violation of ${rule}: ${Object.keys(files)[0]}`, () => {
      const r = cruise(project(files));
      expect(r.status).not.toBe(0);
      // a cycle is named from any of its files; the other rules from the importing file
      expect(r.out).toContain(
        `error ${rule}: ${rule === "no-cycles" ? dirname(Object.keys(files)[0]!) : Object.keys(files)[0]}`,
      );
      expect(r.out).toMatch(/x 1 dependency violations? \(1 error/);
    });
});

/**
 * Flavor names outside src/flavors/ (issue 12: code asks the flavor registry instead of comparing a
 * flavor's name; the ids are declared by the flavors' spec sections, flavors/sections.ts). What a
 * rule cannot say is counted here, per file: only data that happens to spell a flavor's name is
 * left; a new name fails, and a file that no longer has one must be taken off the list.
 */
const FLAVOR_NAMES_LEFT: Record<string, number> = {
  // the purl namespace of Debian packages (the purl spec's vocabulary, not the flavor's id)
  "src/sbom/purl.ts": 1,
  // the name of Portage's main repository (Portage's), not the flavor's
  "src/gentoo/portage-names.ts": 1,
};

function flavorNamesOutsideFlavors(): Record<string, number> {
  const found: Record<string, number> = {};
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "flavors" && e.name !== "testdata") walk(path);
      } else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) {
        const n = readFileSync(path, "utf8").match(/"(gentoo|debian)"/g)?.length ?? 0;
        if (n > 0) found[relative(projectRoot, path)] = n;
      }
    }
  };
  walk(join(projectRoot, "src"));
  return found;
}

describe("flavor names outside src/flavors/", () => {
  it("are only data (each quoted name counted, as grep -o counts them)", () => {
    expect(flavorNamesOutsideFlavors()).toEqual(FLAVOR_NAMES_LEFT);
  });
});
