/**
 * `compat impact CANDIDATE|LAYER --software DIR[=PATH] [--against PUBLISHED] [--tests FILE]
 * [--reframe CMD] [--json] [--junit FILE]`: try a layer under the software built on the published
 * one. Exit 0 when nothing regressed, 3 on a regression (or when nothing was checked).
 */
import type { Command } from "commander";
import { InputError, ValidationError } from "../errors.js";
import type { ImpactLayer } from "../impact/index.js";
import { log } from "../log.js";
import { resolveTarget } from "./check.js";
import { archOption, jsonOption, rootOption } from "./common-options.js";
import { printJson } from "./output.js";
import { writeResult } from "./output-file.js";

interface ImpactCliOptions {
  software: string[];
  against?: string;
  tests?: string;
  reframe?: string;
  reframeTimeout?: string;
  arch?: string;
  root?: string;
  json?: boolean;
  junit?: string;
  /** A directory, or false with --no-cache. */
  cache?: string | false;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  program
    .command("impact")
    .description(
      "check that a candidate layer does not break the software built on the published one: every ELF object's libraries, versions and symbols, and the stack's own tests",
    )
    .argument(
      "<layer>",
      "the candidate: a prefix directory (EPREFIX), or a layer spec whose layer is in the local root",
    )
    .requiredOption(
      "--software <dir[=path]>",
      "a software tree built on the layer (repeatable); =PATH: the path its programs see it at, under /cvmfs (default: where it is)",
      collect,
    )
    .option(
      "--against <published>",
      "the published layer to compare with (prefix directory or spec); without it every problem counts",
    )
    .option("--tests <file>", "a YAML file of the stack's tests (name, command, exit, output, timeout)")
    .option("--reframe <cmdline>", "a ReFrame command line to run on each layer (compat adds --report-file)")
    .option("--reframe-timeout <seconds>", "kill ReFrame after this many seconds (default 21600)")
    .addOption(archOption("CPU family (spec: default the host's; prefix: from its path)"))
    .addOption(rootOption("local repository root standing for /cvmfs/<repository> (specs only)"))
    .option(
      "--cache <dir>",
      "keep verdicts here for the next run, by content (default $COMPAT_CACHE_DIR/impact or $XDG_CACHE_HOME/compat/impact)",
    )
    .option("--no-cache", "judge every object anew and keep nothing")
    .addOption(jsonOption("print the report as JSON (schema in docs/cli.md)"))
    .option("--junit <file>", "also write the report as JUnit XML to this file")
    .action(async (layerArg: string, opts: ImpactCliOptions) => {
      const { runImpact } = await import("../impact/index.js");
      const { parseSoftwareArg } = await import("../impact/software.js");
      const { impactJUnit, impactJson, renderImpact } = await import("../impact/report.js");
      const { defaultCacheDir } = await import("../impact/cache.js");
      const software = opts.software.map(parseSoftwareArg);
      const candidate = await layerOf(layerArg, opts, "candidate");
      const published = opts.against ? await layerOf(opts.against, opts, "published layer") : undefined;
      let suite: import("../impact/tests.js").TestSuite | undefined;
      if (opts.tests || opts.reframe) {
        const { loadTestSuite, MAX_TIMEOUT_S } = await import("../impact/tests.js");
        suite = opts.tests ? await loadTestSuite(opts.tests) : { tests: [] };
        if (opts.reframe) {
          const timeout = opts.reframeTimeout === undefined ? 6 * 3600 : Number(opts.reframeTimeout);
          if (!Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_TIMEOUT_S)
            throw new InputError(
              `--reframe-timeout ${opts.reframeTimeout}: not a number of seconds between 0 and ${MAX_TIMEOUT_S} (a week)`,
            );
          suite.reframe = { command: opts.reframe, timeout };
        }
      }
      const report = await runImpact({
        candidate,
        published,
        software,
        suite,
        cacheDir: opts.cache === false ? undefined : (opts.cache ?? defaultCacheDir()),
        progress: (m) => log.info(m),
      });
      if (opts.junit) await writeResult(impactJUnit(report), opts.junit);
      if (opts.json) printJson(impactJson(report));
      else process.stdout.write(`${renderImpact(report)}\n`);
      const s = report.summary;
      if (s.objects === 0)
        throw new ValidationError(
          `no dynamically linked ELF object under ${software.map((t) => t.local).join(", ")}: nothing was checked`,
          {
            details: report.abi.skipped.slice(0, 10).map((k) => `${k.path}: ${k.why}`),
            hint: "give --software the directory of a software stack (its bin/ and lib/ hold the programs and libraries)",
          },
        );
      if (s.verdict === "fail")
        throw new ValidationError(
          `the candidate breaks the software: ${s.regressions} ABI ${published ? "regression" : "problem"}${s.regressions === 1 ? "" : "s"}, ${s.testRegressions} failing test${s.testRegressions === 1 ? "" : "s"}`,
        );
    });
}

async function layerOf(arg: string, opts: ImpactCliOptions, what: string): Promise<ImpactLayer> {
  const t = await resolveTarget(arg, opts).catch((e: unknown) => {
    if (e instanceof InputError)
      throw new InputError(`${what}: ${e.message}`, { details: e.details, hint: e.hint });
    throw e;
  });
  return {
    prefix: t.prefix,
    local: t.localPrefix,
    arch: t.arch,
    flavor: t.flavor,
    trustedDirs: t.trustedDirs,
    origin: `${what} ${t.origin}`,
  };
}
