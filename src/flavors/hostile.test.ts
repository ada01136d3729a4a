/**
 * Issue 10, findings 1–3, against the stages themselves: a layer whose values never passed the
 * spec's validation (a plan.json edited on disk, a caller that builds a ResolvedLayer by hand) is
 * still refused where the stage would write, and nothing outside the prefix is touched. The spec
 * side (refused at `compat plan`) is test/e2e/hostile-spec.test.ts.
 */
import { existsSync, lstatSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { canaryPerTest } from "../../test/helpers/canary.js";
import { InputError } from "../errors.js";
import { writeReprod } from "../layer/reprod.js";
import { UnsafePathError } from "../paths/rules.js";
import { buildLayer, createStageContext } from "../pipeline/build.js";
import type { ProgressReporter } from "../pipeline/progress.js";
import { parseSpec } from "../spec/load.js";
import { localPrefix, type ResolvedLayer, resolveLayer } from "../spec/resolve.js";
import { hostLinksStage } from "./common.js";
import { applyPlannedFiles, prefixConfinement } from "./files.js";
import { api as gentoo } from "./gentoo/index.js";
import { planOf } from "./index.js";
import type { StageContext } from "./types.js";

const canary = canaryPerTest("hostile-stages");
// a repository of this run's own: nothing depends on the host's /cvmfs
const REPO = `stages-${process.pid}.example.org`;

const SPEC = {
  debian: `repository: ${REPO}\nstack: dev\nversion: "2025.06"\narches: [x86_64]\nflavor: debian\ndebian: { suite: bookworm }\nhostSymlinks: [/etc/passwd]\nvariantSymlinks: { enabled: false }\n`,
  gentoo: `repository: ${REPO}\nstack: dev\nversion: "2025.06"\narches: [x86_64]\nflavor: gentoo\ngentoo:\n  repository: { commit: ${"a".repeat(40)} }\n  packageEnvFiles: { env/ok: "x" }\n`,
};

const layerOf = (flavor: keyof typeof SPEC): ResolvedLayer =>
  resolveLayer(parseSpec(SPEC[flavor], "spec.yaml").spec, "x86_64");

function context(layer: ResolvedLayer): StageContext {
  const prefixDir = join(canary.work, "root", ".build-x", "prefix");
  mkdirSync(join(prefixDir, "etc"), { recursive: true });
  return createStageContext({
    layer,
    specFile: join(canary.work, "spec.yaml"),
    specText: "",
    specHash: "0".repeat(64),
    runId: "test",
    runDir: canary.work,
    prefixDir,
    workDir: join(canary.work, "root", ".build-x"),
    startedAt: new Date(),
    log: new PassThrough(),
    signal: new AbortController().signal,
  });
}

describe("the stages refuse a hostile layer that skipped validation", () => {
  it("finding 1: the host-links stage never removes or links outside the prefix", async () => {
    const layer = layerOf("debian");
    const ctx = context(layer);
    for (const path of [`etc/${"../".repeat(25)}${canary.dir.slice(1)}`, "", "..", "etc/../../.."]) {
      layer.hostLinks = [
        { path: "etc/passwd", plain: "/etc/passwd", final: "/etc/passwd" },
        { path, plain: "/pwned", final: "/pwned" },
      ];
      await expect(hostLinksStage().run(ctx)).rejects.toThrow(UnsafePathError);
    }
    canary.survived();
    // refused before any link of the list was made
    expect(existsSync(join(ctx.prefixDir, "etc/passwd"))).toBe(false);
  });

  it("finding 2: the configure stage never writes a Portage file outside the prefix", async () => {
    const layer = layerOf("gentoo");
    const key = `env/${"../".repeat(30)}${canary.dir.slice(1)}/PWNED.conf`;
    layer.spec.gentoo!.packageEnvFiles[key] = "echo pwned\n";
    const ctx = context(layer);
    const configure = gentoo.plan(layer).find((s) => s.id === "configure")!;
    const err = await configure.run(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafePathError);
    expect((err as UnsafePathError).message).toMatch(/has a "\.\." component/);
    expect(existsSync(join(canary.dir, "PWNED.conf"))).toBe(false);
    canary.survived();
  });

  it("finding 3: a prefix outside /cvmfs/<repository> has no place in the root", () => {
    const layer = layerOf("debian");
    layer.prefixInRepository = "../x/x86_64";
    expect(() => localPrefix(layer, join(canary.work, "root"))).toThrow(UnsafePathError);
    layer.prefixInRepository = "";
    expect(() => localPrefix(layer, join(canary.work, "root"))).toThrow(UnsafePathError);
  });

  it("a resumed run whose plan.json names other paths is refused before any stage runs", async () => {
    const specFile = join(canary.work, "spec.yaml");
    writeFileSync(specFile, SPEC.gentoo);
    const runs = join(canary.work, "runs");
    const root = join(canary.work, "root");
    const runId = "20250101-000000-x86_64-abcd";
    mkdirSync(join(runs, runId, "stages"), { recursive: true });
    const target = localPrefix(layerOf("gentoo"), root);
    // an edited plan.json: the stages would remove and rename these
    const plan = {
      runId,
      specFile,
      specHash: parseSpec(SPEC.gentoo, specFile).hash,
      arch: "x86_64",
      flavor: "gentoo",
      repository: REPO,
      prefix: layerOf("gentoo").prefix,
      root,
      target,
      workDir: canary.dir,
      prefixDir: canary.dir,
      stages: [],
      layerPlan: {},
      createdAt: new Date().toISOString(),
      compatVersion: "0",
    };
    writeFileSync(join(runs, runId, "plan.json"), JSON.stringify(plan));
    writeFileSync(join(runs, runId, "spec.yaml"), SPEC.gentoo);
    const reporter: ProgressReporter = { emit: () => {}, close: () => {} };
    const err = await buildLayer({ specFile, root, resume: runId, runsDir: runs, reporter }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toBe(
      `cannot resume run ${runId}: its plan.json does not match the run`,
    );
    expect((err as InputError).details.join("\n")).toMatch(/workDir: .*victim.* in plan.json/);
    canary.survived();
  });

  it("a write never follows a symlink in the prefix that leads out of it (a host link, `etc -> /etc`)", async () => {
    const layer = layerOf("gentoo");
    const ctx = context(layer);
    rmSync(join(ctx.prefixDir, "etc"), { recursive: true });
    symlinkSync(canary.dir, join(ctx.prefixDir, "etc"));
    symlinkSync(canary.dir, join(ctx.prefixDir, "reprod"));
    // the locales stage's write of etc/locale.gen, then the configure stage's Portage files
    await expect(
      applyPlannedFiles(prefixConfinement(ctx), planOf(layer).files, (p) => p === "etc/locale.gen"),
    ).rejects.toThrow(/leads through the symlink etc -> /);
    const configure = gentoo.plan(layer).find((s) => s.id === "configure")!;
    await expect(configure.run(ctx)).rejects.toThrow(UnsafePathError);
    // the record stage
    const record = {
      packagesTxt: "",
      specText: "",
      record: { sourceDateEpoch: 0 } as Parameters<typeof writeReprod>[1]["record"],
    };
    await expect(writeReprod(prefixConfinement(ctx), record)).rejects.toThrow(
      /leads through the symlink reprod -> /,
    );
    canary.survived();
    expect(lstatSync(join(ctx.prefixDir, "etc")).isSymbolicLink()).toBe(true);
  });
});
