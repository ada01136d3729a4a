/**
 * `compat build SPEC [--arch A] [--root DIR] [--resume RUN] [--dry-run] [--json]`: build one layer.
 * `compat build SPEC --check-reproducible [--against ARTIFACT]`: build it twice and compare
 * (build-reproducible.ts). `--on ssh|slurm` and `--all-arches`: elsewhere (build-remote.ts).
 */
import { dirname } from "node:path";
import type { Command } from "commander";
import { InputError } from "../errors.js";
import type { LayerPlan } from "../flavors/plan.js";
import { log } from "../log.js";
import { style } from "../text.js";
import { archOption, jsonOption, rootOption } from "./common-options.js";
import { addExecutorOptions, INTERRUPTED_EXIT, type RemoteBuildCliOptions } from "./executor-options.js";
import { printJson, shown } from "./output.js";
import { renderPlanText } from "./plan.js";

export { INTERRUPTED_EXIT } from "./executor-options.js";

/**
 * pipeline/build.ts's DEFAULT_RUNS_DIR, spelled here so that defining the option does not load
 * the build pipeline (src/cli/startup.test.ts keeps the two equal).
 */
export const DEFAULT_RUNS_DIR = "runs";

interface BuildCliOptions extends RemoteBuildCliOptions {
  arch?: string;
  root?: string;
  resume?: string;
  dryRun?: boolean;
  json?: boolean;
  runsDir?: string;
  checkReproducible?: boolean;
  against?: string;
  buildRoot?: boolean;
  stateDir?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("build")
    .description(
      "build a layer for one arch: stages in a run directory, built aside, moved into place when all passed",
    )
    .argument("<spec>", "layer spec (YAML)")
    .addOption(archOption("CPU family to build (default: the host's, when the spec lists it)"))
    .addOption(rootOption())
    .option("--resume <run>", "continue a failed or interrupted build after its last completed stage")
    .option("--dry-run", "print the plan (stages, paths) and build nothing")
    .addOption(jsonOption("progress as JSON events on stdout, one object per line (docs/cli.md)"))
    .option("--runs-dir <dir>", "where run directories go", DEFAULT_RUNS_DIR)
    .option(
      "--build-root",
      "run the stages in the spec's build root (compat buildroot) even where the flavor does not by default (debian without a buildRoot section)",
    )
    .option(
      "--no-build-root",
      "run the stages on the host's userland instead of a build root (for development: the host's compiler and tools go into the layer)",
    )
    .option(
      "--state-dir <dir>",
      "compat's state dir, where build roots are cached (default $COMPAT_STATE_DIR, else /var/lib/compat as root, else $XDG_STATE_HOME/compat)",
    )
    .option(
      "--all-arches",
      "build every arch of the spec at once, each on its executor (executors: in the site config, or --on), and print a matrix",
    )
    .option(
      "-o, --output <dir>",
      "with --on ssh/slurm or --all-arches: where the artifacts and run records come back to",
      "artifacts",
    )
    .option("--config <file>", "site config with the executors (default ./compat.yaml)")
    .option(
      "--check-reproducible",
      "build the layer twice, each aside in <runs-dir>/reproducible-<id>/ (the live layer untouched), and compare the artifacts' sha256; exit 3 naming each differing file when they differ",
    )
    .option(
      "--against <artifact>",
      "with --check-reproducible: build once and compare with this artifact (e.g. the published one), at its SOURCE_DATE_EPOCH",
    );
  addExecutorOptions(cmd).action(async (specFile: string, opts: BuildCliOptions) => {
    if (opts.against !== undefined && !opts.checkReproducible)
      throw new InputError("--against goes with --check-reproducible", {
        hint: "compat build SPEC --check-reproducible --against ARTIFACT",
      });
    const remote = await import("./build-remote.js");
    const mode = remote.remoteBuildMode(opts);
    if (opts.checkReproducible) {
      const clash = (["resume", "dryRun", "root"] as const).find((k) => opts[k] !== undefined);
      if (clash || mode === "all")
        throw new InputError(
          `--check-reproducible builds two copies in roots of their own: ${clash ? `--${clash === "dryRun" ? "dry-run" : clash}` : "--all-arches"} does not go with it`,
          {
            hint: "compat build SPEC --check-reproducible [--arch A] [--on EXECUTOR] [--runs-dir DIR] [--json]",
          },
        );
      const { checkReproducibleCommand } = await import("./build-reproducible.js");
      // --on ssh|slurm: copy B is built there, copy A here (two hosts, as EESSI#220 asks)
      return checkReproducibleCommand(specFile, { ...opts, ...(mode ? { elsewhere: mode } : {}) });
    }
    if (mode !== undefined && (opts.dryRun || opts.resume))
      throw new InputError("--dry-run and --resume build here: not with --all-arches or --on ssh/slurm");
    if (mode === "all") return remote.buildAllArches(specFile, opts);
    if (mode) return remote.buildRemote(specFile, mode, opts);
    const { buildLayer, planBuild } = await import("../pipeline/build.js");
    if (opts.dryRun) {
      const p = await planBuild({ specFile, arch: opts.arch, root: opts.root });
      if (opts.json) printJson(p);
      else {
        const { flavorHas } = await import("../flavors/index.js");
        const plan = p.layerPlan as LayerPlan;
        process.stdout.write(renderPlanText(plan, flavorHas(plan.flavor, "portage")));
        process.stdout.write(
          `\n${style.bold("Where")}\n  layer goes to   ${shown(p.target)}\n  built aside in  ${shown(dirname(p.target))}/.build-<run id>/\n  run record in   ${shown(opts.runsDir ?? DEFAULT_RUNS_DIR)}/<run id>/\n`,
        );
      }
      return;
    }
    const controller = new AbortController();
    const onSignal = (sig: NodeJS.Signals) => {
      log.warn(`${sig}: stopping the build (the run can be resumed)`);
      controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const { HumanProgress, JsonEvents } = await import("../pipeline/progress.js");
    const { resumeCommand, shellCommand } = await import("./build-hints.js");
    const { BuildInterrupted } = await import("../pipeline/runner.js");
    try {
      const outcome = await buildLayer({
        specFile,
        arch: opts.arch,
        root: opts.root,
        resume: opts.resume,
        runsDir: opts.runsDir,
        ...(opts.buildRoot === undefined ? {} : { buildRoot: opts.buildRoot }),
        ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
        reporter: opts.json ? new JsonEvents() : new HumanProgress(),
        signal: controller.signal,
        resumeHint: (id) => resumeCommand(specFile, { ...opts, defaultRunsDir: DEFAULT_RUNS_DIR }, id),
      });
      if (!opts.json)
        process.stdout.write(
          `layer: ${shown(outcome.layer)}\n` +
            (outcome.previousLayer ? `previous layer kept as: ${shown(outcome.previousLayer)}\n` : "") +
            `run: ${shown(outcome.runDir)}\n` +
            `enter it: ${shellCommand(specFile, opts)}\n`,
        );
    } catch (e) {
      if (!(e instanceof BuildInterrupted)) throw e;
      log.error(
        `${e.message}; continue with: ${resumeCommand(specFile, { ...opts, defaultRunsDir: DEFAULT_RUNS_DIR }, e.runId)}`,
      );
      process.exitCode = INTERRUPTED_EXIT;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  });
}
