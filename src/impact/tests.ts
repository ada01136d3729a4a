/**
 * The software stack's own tests, run in the sandbox with a layer at its prefix and the software
 * trees at their paths: a YAML file of commands (name, command, expected exit status, optional
 * output regex, timeout) and/or a ReFrame command line, whose JSON run report gives one result per
 * test case. A test that hangs is killed at its timeout (the whole sandbox: bwrap's PID namespace
 * dies with it) and reported as such.
 *
 *   tests:
 *     - name: python-ssl
 *       command: python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)'
 *       output: OpenSSL 3
 *     - name: hello
 *       command: /cvmfs/…/software/…/bin/hello
 *       exit: 0
 *       timeout: 30
 *   reframe:
 *     command: reframe -C /path/config.py -c /path/checks -r
 *     timeout: 3600
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import vm from "node:vm";
import { z } from "zod";
import { formatProblem, validateYamlText } from "../config/yaml.js";
import { InputError, isCompatError } from "../errors.js";
import { cleanEnvironment, type LayerMount, runInLayer } from "../exec/sandbox.js";
import { readRegularFile } from "../paths/regular-file.js";
import { parseReframeReport, type ReframeCase } from "./reframe.js";

const DEFAULT_TIMEOUT_S = 300;
/** ReFrame's run report of a whole site's suite is a few MB; beyond this it is not a report. */
const MAX_REFRAME_REPORT = 256 << 20;
/** Output kept per test (its tail beyond this): a test that prints gigabytes does not fill memory. */
const MAX_OUTPUT = 1 << 20;

/** The longest a test may run (a week; Node's timers could not wait much longer: 2^31 ms). */
export const MAX_TIMEOUT_S = 7 * 24 * 3600;

const timeout = z
  .number()
  .positive()
  .max(MAX_TIMEOUT_S)
  .describe("seconds before the test is killed and reported as timed out");

/** NUL cannot be passed to a process; other control characters garble reports and JUnit XML. */
const noNul = (what: string) => z.string().regex(/^[^\0]*$/, { message: `${what} cannot hold a NUL byte` });

export const testSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(200)
    .regex(/^\P{Cc}+$/u, { message: "one line of printable text" })
    .describe("the test's name, as reports show it"),
  command: noNul("a command")
    .min(1)
    .max(64 * 1024)
    .describe("a shell command line (/bin/sh -c) run in the sandbox"),
  exit: z.int().min(0).max(255).default(0).describe("the exit status that means it passed"),
  output: z
    .string()
    .refine(
      (s) => {
        try {
          new RegExp(s, "m");
          return true;
        } catch {
          return false;
        }
      },
      { message: "not a regular expression" },
    )
    .optional()
    .describe("a regular expression its output (stdout and stderr) must match"),
  timeout: timeout.default(DEFAULT_TIMEOUT_S),
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "not a variable name" }),
      noNul("a value").max(64 * 1024),
    )
    .optional()
    .describe("extra environment variables"),
});

export const suiteSchema = z
  .strictObject({
    tests: z.array(testSchema).default([]),
    reframe: z
      .strictObject({
        command: noNul("a command")
          .min(1)
          .max(64 * 1024)
          .describe("the reframe command line; compat adds --report-file"),
        timeout: timeout.default(6 * 3600),
      })
      .optional(),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.tests.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({
          code: "custom",
          path: ["tests", i, "name"],
          message: `a second test named ${t.name}`,
        });
      seen.add(t.name);
    });
    if (s.tests.length === 0 && !s.reframe)
      ctx.addIssue({ code: "custom", path: [], message: "no tests and no reframe command: nothing to run" });
  });

export type TestSpec = z.output<typeof testSchema>;
export type TestSuite = z.output<typeof suiteSchema>;

/** A tests file beyond this is not one a person wrote. */
const MAX_TESTS_FILE = 4 << 20;
/** How long an output regex may take on one output (a pattern that backtracks catastrophically). */
const REGEX_TIMEOUT_MS = 5_000;

/** Load a tests file; every problem with its line. */
export async function loadTestSuite(file: string): Promise<TestSuite> {
  let text: string;
  try {
    text = await readRegularFile(file, MAX_TESTS_FILE);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      `tests file ${file}: ${code === "ENOENT" ? "no such file" : (code ?? (e as Error).message)}`,
      { hint: "give --tests a YAML file with a `tests:` list (docs/cli.md#impact)" },
    );
  }
  const { value, problems } = validateYamlText(suiteSchema, text, file, "tests");
  if (!value || problems.length > 0)
    throw new InputError(
      `${file}: invalid tests file (${problems.length} problem${problems.length === 1 ? "" : "s"})`,
      {
        details: problems.map(formatProblem),
        hint: "see docs/cli.md#impact for the tests file's fields",
      },
    );
  return value;
}

export type TestStatus = "pass" | "fail" | "timeout" | "skip";

export interface TestOutcome {
  status: TestStatus;
  /** Why it failed, in one line. */
  reason?: string;
  exitStatus?: number;
  durationMs: number;
  /** The tail of its output (stdout and stderr interleaved). */
  output?: string;
}

/** Where the tests run: one layer at its prefix, the software trees at their paths. */
export interface TestPlace {
  mount: LayerMount;
  prefix: string;
  software: { local: string; at: string }[];
}

/** Run one command in the sandbox; never throws for what the command does. */
async function runCommand(
  place: TestPlace,
  command: string,
  opts: { timeoutS: number; env?: Record<string, string>; extraWritable?: string[] },
): Promise<{ status: number; output: string; timedOut: boolean; durationMs: number }> {
  const started = Date.now();
  let output = "";
  const keep = (c: Buffer) => {
    output += c.toString("utf8");
    if (output.length > MAX_OUTPUT * 2) output = output.slice(-MAX_OUTPUT);
  };
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, opts.timeoutS * 1000);
  try {
    const r = await runInLayer(place.mount, command, {
      readOnlyLayer: true,
      network: false,
      cwd: "/",
      // a tree at its own path is the host's, which the sandbox shows, except under its own /cvmfs
      binds: place.software
        .filter((s) => s.at !== s.local || s.at.startsWith("/cvmfs/"))
        .map((s) => ({ src: s.local, dest: s.at, readOnly: true })),
      writable: opts.extraWritable,
      env: cleanEnvironment({ EPREFIX: place.prefix, ...(opts.env ?? {}) }),
      signal: abort.signal,
      killSignal: "SIGKILL",
      okStatuses: Array.from({ length: 256 }, (_, i) => i),
      captureStdout: false,
      onStdout: keep,
      onStderr: keep,
    });
    return {
      status: r.status,
      output: output.slice(-MAX_OUTPUT),
      timedOut,
      durationMs: Date.now() - started,
    };
  } catch (e) {
    if (timedOut)
      return { status: 137, output: output.slice(-MAX_OUTPUT), timedOut, durationMs: Date.now() - started };
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Run one test of the YAML list and judge it. */
export async function runTest(place: TestPlace, test: TestSpec): Promise<TestOutcome> {
  const r = await runCommand(place, test.command, { timeoutS: test.timeout, env: test.env });
  const base = { exitStatus: r.status, durationMs: r.durationMs, output: tail(r.output) };
  if (r.timedOut)
    return { ...base, status: "timeout", reason: `killed after its timeout of ${test.timeout} s` };
  if (r.status !== test.exit)
    return { ...base, status: "fail", reason: `exit status ${r.status}, expected ${test.exit}` };
  if (test.output !== undefined) {
    const m = outputMatches(test.output, r.output);
    if (m === "timeout")
      return {
        ...base,
        status: "fail",
        reason: `its output regex /${test.output}/ ran longer than ${REGEX_TIMEOUT_MS / 1000} s on the output (a pattern that backtracks: simplify it)`,
      };
    if (!m) return { ...base, status: "fail", reason: `its output does not match /${test.output}/` };
  }
  return { ...base, status: "pass" };
}

/**
 * Run the ReFrame command line with `--report-file` in a scratch directory of its own, and read one
 * outcome per test case from the report. A run that leaves no report is one failed test, `reframe`.
 */
export async function runReframe(
  place: TestPlace,
  reframe: NonNullable<TestSuite["reframe"]>,
): Promise<Map<string, TestOutcome>> {
  const scratch = await mkdtemp(join(tmpdir(), "compat-reframe-"));
  try {
    const report = join(scratch, "report.json");
    const command = `${reframe.command} --report-file=${report} --prefix=${join(scratch, "rfm")}`;
    const r = await runCommand(place, command, { timeoutS: reframe.timeout, extraWritable: [scratch] });
    const out = new Map<string, TestOutcome>();
    let cases: ReframeCase[] | undefined;
    let problem: string | undefined;
    try {
      // written by the tested software's run: not followed, not blocking, bounded
      cases = parseReframeReport(await readRegularFile(report, MAX_REFRAME_REPORT, { noFollow: true }));
    } catch (e) {
      problem = isCompatError(e) || e instanceof Error ? e.message : String(e);
    }
    if (!cases || cases.length === 0) {
      out.set("reframe", {
        status: r.timedOut ? "timeout" : "fail",
        reason: r.timedOut
          ? `killed after its timeout of ${reframe.timeout} s`
          : `exit status ${r.status}; ${problem ?? "the report lists no test case"}`,
        exitStatus: r.status,
        durationMs: r.durationMs,
        output: tail(r.output),
      });
      return out;
    }
    for (const c of cases)
      out.set(`reframe: ${c.name}`, {
        status: c.status,
        reason: c.reason,
        durationMs: c.durationMs ?? 0,
      });
    return out;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Does the output match the test's regex? A regex is run with a time limit: the file is not trusted. */
function outputMatches(pattern: string, output: string): boolean | "timeout" {
  try {
    return vm.runInNewContext(
      "re.test(output)",
      { re: new RegExp(pattern, "m"), output },
      {
        timeout: REGEX_TIMEOUT_MS,
      },
    ) as boolean;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_SCRIPT_EXECUTION_TIMEOUT") return "timeout";
    throw e;
  }
}

/** The last lines of an output, for reports. */
function tail(s: string, lines = 20): string {
  return s.trimEnd().split("\n").slice(-lines).join("\n");
}
