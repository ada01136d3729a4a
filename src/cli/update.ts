/**
 * `compat update LAYER [--arch A] [--from TARGET] [--packages ATOMS | --all] [--reason TEXT]
 *  [--resume] [--wait SECONDS] [--json] [--config FILE]`: build a candidate from the layer a target
 * holds, pack it (full and delta), run its gates.
 */
import { type Command, InvalidArgumentError } from "commander";
import { InputError } from "../errors.js";
import { log } from "../log.js";
import { style } from "../text.js";
import { commaList } from "./args.js";
import { INTERRUPTED_EXIT } from "./build.js";
import { archOption, jsonOption } from "./common-options.js";
import { addExecutorOptions } from "./executor-options.js";
import { printJson } from "./output.js";
import { addConfigOption, type SiteCliOptions, withSiteStore } from "./site-store.js";
import type { RemoteUpdateCliOptions } from "./update-remote.js";

type UpdateCliOptions = SiteCliOptions & RemoteUpdateCliOptions;

function seconds(value: string): number {
  if (!/^[0-9]{1,6}$/.test(value)) throw new InvalidArgumentError("expected a whole number of seconds");
  return Number(value);
}

export function register(program: Command): void {
  const cmd = program
    .command("update")
    .description(
      "build a candidate from the layer a target holds (debian: rebuild; gentoo: emerge over it), pack it (full + delta), run its gates",
    )
    .argument("<layer>", "a layer of the site config (layers: in compat.yaml)")
    .addOption(archOption("CPU family (default: the host's, when the layer is kept for it)"))
    .option(
      "--from <target>",
      "the target whose layer is updated (default: the first target of the site config)",
    )
    .option(
      "--packages <atoms>",
      "the packages the update is for (gentoo: atoms to emerge --oneshot --update; debian: package names whose findings must go); comma-separated, repeatable",
      commaList,
    )
    .option("--all", "update everything (gentoo: emerge --update --deep --newuse @world; the default)")
    .option("--reason <text>", "why (one line, recorded with the candidate)")
    .option("--resume", "continue the newest interrupted update of this layer and arch (its build)")
    .option(
      "--wait <seconds>",
      "wait this long for another update of the same layer to finish (default: refuse at once)",
      seconds,
    )
    .addOption(jsonOption("print the result as JSON (schema in docs/cli.md); progress stays on stderr"))
    .option(
      "--remote-config <file>",
      "with --on ssh: the site config on the build host (with --on slurm the default is this one, on the shared filesystem)",
    );
  addExecutorOptions(addConfigOption(cmd)).action(async (layer: string, opts: UpdateCliOptions) => {
    if (opts.packages && opts.all) throw new InputError("--packages and --all exclude each other");
    const { onOption } = await import("./executor-run.js");
    const on = onOption(opts);
    if (on && on.kind !== "local") {
      const { updateRemote } = await import("./update-remote.js");
      return updateRemote(layer, on, opts);
    }
    if (!on) {
      // no --on: the arch's executor in the site config, as build --all-arches and serve's scheduled updates use
      const { configuredExecutor } = await import("./update-remote.js");
      const configured = await configuredExecutor(layer, opts);
      if (configured) {
        const { updateRemote } = await import("./update-remote.js");
        return updateRemote(layer, configured.executor, { ...opts, arch: configured.arch }, configured.site);
      }
    }
    if (opts.remoteConfig) throw new InputError("--remote-config goes with --on ssh:… or --on slurm…");
    const { checkReasonText } = await import("../update/approve.js");
    const reason = opts.reason === undefined ? undefined : checkReasonText(opts.reason, "--reason");
    const { runUpdate } = await import("../update/update.js");
    const { HumanProgress } = await import("../pipeline/progress.js");
    const { BuildInterrupted } = await import("../pipeline/runner.js");
    const controller = new AbortController();
    const onSignal = (sig: NodeJS.Signals) => {
      log.warn(`${sig}: stopping the update (continue it with --resume)`);
      controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      await withSiteStore(opts, async (site, store) => {
        const r = await runUpdate(site, store, {
          layer,
          arch: opts.arch,
          from: opts.from,
          packages: opts.packages,
          reason,
          resume: opts.resume,
          waitMs: opts.wait === undefined ? undefined : opts.wait * 1000,
          signal: controller.signal,
          reporter: new HumanProgress(),
          onStep: (m) => log.info(m),
          onGateStart: (g) => log.info(`gate ${g.id}: ${g.title}`),
          onGateEnd: (g, res) => log.info(`gate ${g.id}: ${res.state}`),
        });
        if (opts.json) {
          printJson(r);
          if (!r.unchanged && r.candidate.state !== "ready") process.exitCode = 3;
          return;
        }
        if (r.unchanged) {
          process.stdout.write(`${style.green("nothing to update")}: ${r.message}\n`);
          return;
        }
        const render = await import("./candidate-render.js");
        const lines = [
          render.renderCandidateHead(r.candidate),
          ...render.renderPackageDiff(r.packageDiff),
          ...render.renderArtifacts(r.full, r.delta),
          ...render.renderGates(r.gates),
          `  took      ${(r.durationMs.total / 1000).toFixed(0)} s (build ${(r.durationMs.build / 1000).toFixed(0)} s, pack ${(r.durationMs.pack / 1000).toFixed(0)} s, gates ${(r.durationMs.gates / 1000).toFixed(0)} s)`,
          r.candidate.state === "ready"
            ? `next: compat approve ${r.candidate.id} --key KEY${site.file ? ` --config ${site.file}` : ""}`
            : `the candidate's gates did not all pass: see compat candidate ${r.candidate.id}`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
        if (r.candidate.state !== "ready") process.exitCode = 3;
      });
    } catch (e) {
      if (!(e instanceof BuildInterrupted) && !controller.signal.aborted) throw e;
      log.error(
        `the update was interrupted; continue it with: compat update ${layer}${opts.arch ? ` --arch ${opts.arch}` : ""} --resume`,
      );
      process.exitCode = INTERRUPTED_EXIT;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  });
}
