/**
 * ReFrame's JSON run report (`reframe … --report-file FILE`, schema reframe/schemas/runreport.json,
 * data_version 3.x and 4.x): one outcome per test case. A case retried with `--max-retries` appears
 * again in later runs; its last appearance is its result. A case is named as ReFrame prints it:
 * `<unique name> @<system>:<partition>+<environment>`.
 */
import { z } from "zod";
import { InputError } from "../errors.js";

export interface ReframeCase {
  name: string;
  status: "pass" | "fail" | "skip";
  reason?: string;
  durationMs?: number;
}

const testcase = z.looseObject({
  name: z.string(),
  unique_name: z.string().optional(),
  display_name: z.string().optional(),
  system: z.string().nullish(),
  partition: z.string().nullish(),
  environ: z.string().nullish(),
  environment: z.string().nullish(),
  result: z.string(),
  fail_phase: z.string().nullish(),
  fail_reason: z.string().nullish(),
  time_total: z.number().nullish(),
});

const report = z.looseObject({
  session_info: z.looseObject({ data_version: z.string() }),
  runs: z.array(z.looseObject({ testcases: z.array(testcase) })),
});

/** ReFrame's result words: pass and xfail (an expected failure) pass; skip is neither. */
const PASSING = new Set(["pass", "success", "xfail"]);
const SKIPPED = new Set(["skip"]);

export function parseReframeReport(text: string): ReframeCase[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InputError(`the ReFrame report is not JSON (${(e as Error).message})`);
  }
  const parsed = report.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `the ReFrame report does not have ReFrame's run report form: ${issue.path.join(".") || "document"}: ${issue.message}`,
    );
  }
  const last = new Map<string, ReframeCase>();
  for (const run of parsed.data.runs)
    for (const tc of run.testcases) {
      const system = [tc.system, tc.partition].filter(Boolean).join(":");
      const env = tc.environ ?? tc.environment;
      const name = `${tc.unique_name ?? tc.name}${system ? ` @${system}` : ""}${env ? `+${env}` : ""}`;
      const status = PASSING.has(tc.result) ? "pass" : SKIPPED.has(tc.result) ? "skip" : "fail";
      last.set(name, {
        name,
        status,
        reason:
          status === "fail"
            ? `${tc.result}${tc.fail_phase ? ` in ${tc.fail_phase}` : ""}${tc.fail_reason ? `: ${tc.fail_reason.split("\n")[0]}` : ""}`
            : undefined,
        durationMs: tc.time_total == null ? undefined : Math.round(tc.time_total * 1000),
      });
    }
  return [...last.values()];
}
