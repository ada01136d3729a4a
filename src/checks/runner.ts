/**
 * The runner: picks the checks (--only/--skip, the spec's `checks:` options), runs them in
 * parallel (they share the tree walk and ELF index through the context), and summarises. A run
 * in which no check executed is a failure, never a silent success.
 */
import { InputError } from "../errors.js";
import { log } from "../log.js";
import { closest } from "../spec/load.js";
import { checkFlavors } from "./applies.js";
import { CHECKS } from "./registry.js";
import type { Check, CheckContext, CheckOutcome, CheckResult } from "./types.js";
import { versionSkipReason } from "./versions.js";

export interface RunChecksOptions {
  /** Run only these ids (replaces the spec's `checks.only`). */
  only?: string[];
  /** Do not run these ids (added to the spec's `checks.skip`). */
  skip?: string[];
  /** The suite to run (default: every registered check). */
  checks?: readonly Check[];
  /**
   * `build`: the layer is in a build's check stage, before its final host links and build record
   * (EESSI's order); checks of the finished layer only are skipped with that reason.
   */
  phase?: "build" | "finished";
  /** Called as each check finishes (progress). */
  onResult?: (r: CheckResult) => void;
}

export interface ReportSummary {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  /** Checks that ran to a verdict (pass or fail). Zero means the run proved nothing and fails. */
  executed: number;
  ok: boolean;
}

export interface CheckReport {
  target: {
    prefix: string;
    localPrefix: string;
    flavor: string;
    arch: string;
    os: string;
    version?: string;
    origin: string;
  };
  startedAt: string;
  durationMs: number;
  results: CheckResult[];
  summary: ReportSummary;
}

/** Validate --only/--skip ids against the suite; unknown ids are an input error with suggestions. */
export function selectChecks(
  suite: readonly Check[],
  only: readonly string[] | undefined,
  skip: readonly string[],
): Map<string, string | undefined> {
  const ids = new Set(suite.map((c) => c.id));
  const unknown = [...(only ?? []), ...skip].filter((id) => !ids.has(id));
  if (unknown.length > 0)
    throw new InputError(`unknown check id${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, {
      details: unknown.map((u) => {
        const near = closest(u, [...ids]);
        return near ? `${u}: did you mean ${near}?` : `${u}: no such check`;
      }),
      hint: "list the checks with: compat check --list",
    });
  const reasons = new Map<string, string | undefined>();
  for (const c of suite) {
    if (only && only.length > 0 && !only.includes(c.id)) reasons.set(c.id, "not selected (--only)");
    else if (skip.includes(c.id)) reasons.set(c.id, "skipped on request (--skip or the spec's checks.skip)");
    else reasons.set(c.id, undefined);
  }
  return reasons;
}

export async function runChecks(ctx: CheckContext, opts: RunChecksOptions = {}): Promise<CheckReport> {
  const suite = opts.checks ?? CHECKS;
  const settings = ctx.target.settings;
  const only = opts.only && opts.only.length > 0 ? opts.only : settings.only;
  const skipIds = [...(settings.skip ?? []), ...(opts.skip ?? [])];
  const selection = selectChecks(suite, only, skipIds);
  const started = Date.now();
  const startedAt = new Date(started).toISOString();

  const results = await Promise.all(
    suite.map(async (check): Promise<CheckResult> => {
      const t0 = Date.now();
      const outcome = await runOne(check, ctx, selection.get(check.id), opts.phase ?? "finished");
      const result: CheckResult = {
        id: check.id,
        title: check.title,
        ...outcome,
        durationMs: Date.now() - t0,
      };
      log.debug(`check ${check.id}: ${result.status} (${result.durationMs} ms)`);
      opts.onResult?.(result);
      return result;
    }),
  );

  const count = (s: string) => results.filter((r) => r.status === s).length;
  const passed = count("pass");
  const failed = count("fail");
  const summary: ReportSummary = {
    total: results.length,
    passed,
    failed,
    skipped: count("skip"),
    executed: passed + failed,
    ok: failed === 0 && passed + failed > 0,
  };
  const t = ctx.target;
  return {
    target: {
      prefix: t.prefix,
      localPrefix: t.localPrefix,
      flavor: t.flavor,
      arch: t.arch,
      os: t.os,
      version: t.version,
      origin: t.origin,
    },
    startedAt,
    durationMs: Date.now() - started,
    results,
    summary,
  };
}

async function runOne(
  check: Check,
  ctx: CheckContext,
  deselected: string | undefined,
  phase: "build" | "finished",
): Promise<CheckOutcome> {
  const skipped = (found: string): CheckOutcome => ({ status: "skip", evidence: { expected: "", found } });
  if (deselected) return skipped(deselected);
  if (phase === "build" && check.finishedOnly)
    return skipped("checked on the finished layer: the build writes it after its check stage");
  const flavors = checkFlavors(check);
  if (!flavors.includes(ctx.target.flavor))
    return skipped(`applies to the ${flavors.join(" and ")} flavor only; this layer is ${ctx.target.flavor}`);
  const wrongVersion = versionSkipReason(check.versions, ctx.target.version);
  if (wrongVersion) return skipped(wrongVersion);
  try {
    const reason = await check.skipReason?.(ctx);
    if (reason) return skipped(reason);
    return await check.run(ctx);
  } catch (e) {
    return {
      status: "fail",
      evidence: {
        expected: "the check runs to a verdict",
        found: `the check could not run: ${e instanceof Error ? e.message : String(e)}`,
      },
    };
  }
}
