/**
 * `compat check PREFIX|SPEC [--arch A] [--root DIR] [--json] [--junit FILE] [--only IDS] [--skip IDS]`:
 * run the check suite on a layer and say exactly what is broken. Exit 0 when every check that
 * applies passed, 3 when one failed or when none ran to a verdict.
 */
import { statSync } from "node:fs";
import type { Command } from "commander";
import type { LayerTarget } from "../checks/target.js";
import { InputError, ValidationError } from "../errors.js";
import { log } from "../log.js";
import { commaList } from "./args.js";
import { archOption, jsonOption, rootOption } from "./common-options.js";
import { addExecutorOptions, type ExecutorCliOptions } from "./executor-options.js";
import { printJson } from "./output.js";
import { writeResult } from "./output-file.js";

interface CheckOptions extends ExecutorCliOptions {
  arch?: string;
  root?: string;
  json?: boolean;
  junit?: string;
  only?: string[];
  skip?: string[];
  list?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("check")
    .description(
      "run the check suite on a layer: a prefix directory, or the layer of a spec in the local root",
    )
    .argument(
      "[target]",
      "a prefix directory (EPREFIX), or a layer spec (YAML) whose layer is in the local root",
    )
    .addOption(
      archOption("CPU family (spec: default the host's when the spec lists it; prefix: from its path)"),
    )
    .addOption(rootOption("local repository root standing for /cvmfs/<repository> (spec only)"))
    .addOption(jsonOption("print the report as JSON (schema in docs/cli.md)"))
    .option("--junit <file>", "also write the report as JUnit XML to this file")
    .option("--only <ids>", "run only these checks (comma-separated, repeatable)", commaList)
    .option("--skip <ids>", "do not run these checks (comma-separated, repeatable)", commaList)
    .option("--list", "list the checks and exit")
    .option("--config <file>", "site config (with --on slurm: its state dir holds the work dir)");
  addExecutorOptions(cmd).action(async (targetArg: string | undefined, opts: CheckOptions) => {
    const { printCheckList, renderReport } = await import("./check-render.js");
    if (opts.list) {
      printCheckList(opts.json === true);
      return;
    }
    if (!targetArg) throw new InputError("compat check needs a prefix directory or a layer spec");
    const { onOption } = await import("./executor-run.js");
    const on = onOption(opts);
    if (on && on.kind !== "local") {
      if (opts.junit || opts.only || opts.skip)
        throw new InputError("--junit, --only and --skip run here: not with --on ssh/slurm");
      const { checkRemote } = await import("./check-remote.js");
      return checkRemote(targetArg, on, opts);
    }
    const { CHECKS } = await import("../checks/registry.js");
    const { selectChecks, runChecks } = await import("../checks/runner.js");
    const { createContext } = await import("../checks/context.js");
    const { reportJson, reportJUnit } = await import("../checks/report.js");
    selectChecks(CHECKS, opts.only, opts.skip ?? []);
    const target = await resolveTarget(targetArg, opts);
    log.info(`checking ${target.origin}`);
    const ctx = createContext(target);
    const report = await runChecks(ctx, {
      only: opts.only,
      skip: opts.skip,
      onResult: (r) => log.debug(`${r.id}: ${r.status} in ${r.durationMs} ms`),
    });
    if (opts.junit) await writeResult(reportJUnit(report), opts.junit);
    if (opts.json) printJson(reportJson(report));
    else process.stdout.write(`${renderReport(report)}\n`);
    const s = report.summary;
    if (s.executed === 0)
      throw new ValidationError("no check ran to a verdict: the run proves nothing", {
        hint: "see the skip reasons above; --only/--skip may exclude everything",
      });
    if (s.failed > 0)
      throw new ValidationError(
        `${s.failed} of ${s.executed} check${s.executed === 1 ? "" : "s"} failed: ${report.results
          .filter((r) => r.status === "fail")
          .map((r) => r.id)
          .join(", ")}`,
      );
  });
}

/** A spec file (its layer in the local root, through the sandbox) or a prefix directory. */
export async function resolveTarget(
  arg: string,
  opts: Pick<CheckOptions, "arch" | "root">,
): Promise<LayerTarget> {
  let isDir: boolean;
  try {
    isDir = statSync(arg).isDirectory();
  } catch {
    throw new InputError(`${arg}: no such file or directory`, {
      hint: "give a prefix directory (EPREFIX) or a layer spec (.yaml)",
    });
  }
  const { targetFromSpec } = await import("../checks/target.js");
  const { targetFromPrefix } = await import("../checks/prefix-target.js");
  if (isDir) {
    if (opts.root) throw new InputError("--root applies to a spec, not to a prefix directory");
    return targetFromPrefix(arg, { arch: opts.arch });
  }
  const { openSpecLayer } = await import("../spec/open.js");
  return targetFromSpec(await openSpecLayer(arg, opts), opts.root);
}
