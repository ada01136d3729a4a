/**
 * An impact report for machines (JSON, schema in docs/cli.md#impact), for CI (JUnit XML: a
 * testcase per problem found and per test of the stack) and for people (text: problems grouped by
 * what is missing, each with the objects it breaks and where the missing thing was before).
 */
import { hostname } from "node:os";
import { junitXml, oneLine } from "../checks/report.js";
import type { Finding, FindingStatus, ImpactReport, TestComparison } from "./index.js";
import { formatPackage } from "./provenance.js";

/** Findings of one problem (the same need of the same object), with every software object it breaks. */
export interface FindingGroup {
  status: FindingStatus;
  kind: Finding["kind"];
  by: string;
  what: string;
  message: string;
  objects: string[];
  before?: Finding["before"];
  now?: Finding["now"];
}

export function groupFindings(findings: readonly Finding[]): FindingGroup[] {
  const groups = new Map<string, FindingGroup>();
  for (const f of findings) {
    const k = `${f.status}\0${f.kind}\0${f.by}\0${f.what}`;
    const g = groups.get(k);
    if (g) g.objects.push(f.object);
    else
      groups.set(k, {
        status: f.status,
        kind: f.kind,
        by: f.by,
        what: f.what,
        message: f.message,
        objects: [f.object],
        before: f.before,
        now: f.now,
      });
  }
  return [...groups.values()];
}

/** The `--json` document. */
export function impactJson(report: ImpactReport): unknown {
  return report;
}

const STATUS_WORD: Record<FindingStatus, string> = {
  regression: "REGRESSION",
  broken: "BROKEN",
  "broken-before": "warning",
  fixed: "fixed",
};

function provenance(g: Pick<FindingGroup, "before" | "now" | "status">): string[] {
  const out: string[] = [];
  const at = (p: NonNullable<FindingGroup["before"]>) =>
    `${p.path}${p.file ? ` → ${p.file}` : ""} (${formatPackage(p.package)})`;
  if (g.before) out.push(`before: ${at(g.before)}`);
  if (g.now) out.push(`now:    ${at(g.now)}`);
  return out;
}

/** The text for people. */
export function renderImpact(
  report: ImpactReport,
  opts: { maxGroups?: number; maxObjects?: number } = {},
): string {
  const maxGroups = opts.maxGroups ?? 30;
  const maxObjects = opts.maxObjects ?? 5;
  const lines: string[] = [];
  const s = report.summary;
  lines.push(`impact of ${report.candidate.origin}`);
  lines.push(
    report.published
      ? `  against ${report.published.origin}`
      : "  no published layer to compare with: every problem counts",
  );
  for (const t of report.software)
    lines.push(`  software: ${t.local}${t.at !== t.local ? ` (seen at ${t.at})` : ""}`);
  lines.push("");
  const a = report.abi;
  lines.push(
    `ABI: ${a.objects} dynamically linked object${a.objects === 1 ? "" : "s"} checked${a.static ? `, ${a.static} static` : ""}${a.skipped.length ? `, ${a.skipped.length} skipped` : ""} (${(a.durationMs / 1000).toFixed(1)} s)`,
  );
  const groups = groupFindings(a.findings);
  for (const status of ["regression", "broken", "broken-before", "fixed"] as const) {
    const of = groups.filter((g) => g.status === status);
    if (of.length === 0) continue;
    const title =
      status === "regression"
        ? "regressions (broken on the candidate, fine on the published layer)"
        : status === "broken"
          ? "problems"
          : status === "broken-before"
            ? "warnings (broken on the published layer too)"
            : "fixed by the candidate";
    lines.push("", `${title}: ${of.length}`);
    for (const g of of.slice(0, maxGroups)) {
      lines.push(`  ${STATUS_WORD[status]}  ${g.message}`);
      const objects = g.objects.filter((o) => o !== g.by);
      const breaks = g.objects.length === 1 && g.objects[0] === g.by ? [] : objects;
      if (breaks.length > 0)
        lines.push(
          `      breaks ${g.objects.length} object${g.objects.length === 1 ? "" : "s"}: ${breaks.slice(0, maxObjects).join(", ")}${breaks.length > maxObjects ? `, … (+${breaks.length - maxObjects})` : ""}`,
        );
      for (const p of provenance(g)) lines.push(`      ${p}`);
    }
    if (of.length > maxGroups) lines.push(`  … and ${of.length - maxGroups} more (see --json)`);
  }
  if (a.leftToLoader.objects > 0)
    lines.push(
      "",
      `${a.leftToLoader.objects} shared object${a.leftToLoader.objects === 1 ? "" : "s"} leave ${a.leftToLoader.symbols} unversioned symbol${a.leftToLoader.symbols === 1 ? "" : "s"} to the program that loads them (as ldd -r reports plugins; a regression only where the published layer resolved one)`,
    );
  if (a.skipped.length > 0) {
    lines.push("", `skipped: ${a.skipped.length}`);
    for (const k of a.skipped.slice(0, 10)) lines.push(`  ${k.path}: ${k.why}`);
    if (a.skipped.length > 10) lines.push(`  … and ${a.skipped.length - 10} more (see --json)`);
  }
  if (a.notElf.length > 0) {
    lines.push("", `named like shared objects but not ELF (linker scripts, or broken): ${a.notElf.length}`);
    for (const p of a.notElf.slice(0, 5)) lines.push(`  ${p}`);
    if (a.notElf.length > 5) lines.push(`  … and ${a.notElf.length - 5} more (see --json)`);
  }
  if (report.tests) {
    lines.push("", `tests: ${report.tests.length}`);
    for (const t of report.tests) lines.push(`  ${testLine(t, report.published !== undefined)}`);
  }
  lines.push("");
  if (s.objects === 0)
    lines.push("verdict: FAIL: no dynamically linked ELF object was found, so nothing was checked");
  else
    lines.push(
      `verdict: ${s.verdict === "pass" ? "PASS" : "FAIL"}: ${s.regressions} ABI ${report.published ? "regression" : "problem"}${s.regressions === 1 ? "" : "s"}${report.tests ? `, ${s.testRegressions} failing test${s.testRegressions === 1 ? "" : "s"}` : ""}${s.brokenBefore ? ` (${s.brokenBefore} broken before too)` : ""}`,
    );
  return lines.join("\n");
}

function outcomeText(o: TestComparison["candidate"] | undefined): string {
  if (!o) return "did not run";
  return o.status === "pass"
    ? `pass (${(o.durationMs / 1000).toFixed(1)} s)`
    : `${o.status}: ${o.reason ?? ""}`;
}

function testLine(t: TestComparison, compared: boolean): string {
  const word = t.verdict === "regression" ? "REGRESSION" : t.verdict === "fail" ? "FAIL" : t.verdict;
  if (!compared) return `${word.padEnd(13)} ${t.name}: ${outcomeText(t.candidate)}`;
  return `${word.padEnd(13)} ${t.name}: published ${outcomeText(t.published)}; candidate ${outcomeText(t.candidate)}`;
}

/** JUnit XML: suite `abi` (one testcase per problem, one for the whole closure) and suite `tests`. */
export function impactJUnit(report: ImpactReport): string {
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const groups = groupFindings(report.abi.findings);
  const abiCases: Record<string, unknown>[] = [
    {
      "@_name": `ABI closure of ${report.abi.objects} objects`,
      "@_classname": "compat.impact.abi",
      "@_time": seconds(report.abi.durationMs),
      ...(report.abi.objects === 0
        ? {
            failure: {
              "@_message": "no dynamically linked ELF object was found: nothing was checked",
              "@_type": "NothingChecked",
            },
          }
        : { "system-out": `${report.abi.objects} objects checked, ${report.abi.skipped.length} skipped` }),
    },
  ];
  for (const g of groups) {
    const text = [g.message, `objects: ${g.objects.join(", ")}`, ...provenance(g)].join("\n");
    const tc: Record<string, unknown> = {
      "@_name": `${g.status}: ${g.by}: ${g.kind} ${g.what}`,
      "@_classname": "compat.impact.abi",
      "@_time": "0",
    };
    if (g.status === "regression" || g.status === "broken")
      tc.failure = {
        "@_message": oneLine(g.message, 500),
        "@_type": g.status === "regression" ? "Regression" : "Broken",
        "#text": text,
      };
    else tc["system-out"] = text;
    abiCases.push(tc);
  }
  const testCases = (report.tests ?? []).map((t) => {
    const tc: Record<string, unknown> = {
      "@_name": t.name,
      "@_classname": "compat.impact.tests",
      "@_time": seconds(t.candidate.durationMs),
    };
    const detail = [
      report.published ? `published: ${outcomeText(t.published)}` : "",
      `candidate: ${outcomeText(t.candidate)}`,
      t.candidate.output ? `output:\n${t.candidate.output}` : "",
    ]
      .filter(Boolean)
      .join("\n");
    if (t.verdict === "regression" || t.verdict === "fail")
      tc.failure = {
        "@_message": oneLine(outcomeText(t.candidate), 500),
        "@_type": t.verdict === "regression" ? "Regression" : "Failed",
        "#text": detail,
      };
    else if (t.verdict === "skip") tc.skipped = { "@_message": oneLine(outcomeText(t.candidate), 500) };
    else tc["system-out"] = detail;
    return tc;
  });
  const failures = (cases: Record<string, unknown>[]) => String(cases.filter((c) => c.failure).length);
  const suite = (name: string, cases: Record<string, unknown>[], ms: number) => ({
    "@_name": name,
    "@_tests": String(cases.length),
    "@_failures": failures(cases),
    "@_errors": "0",
    "@_skipped": String(cases.filter((c) => c.skipped).length),
    "@_time": seconds(ms),
    "@_timestamp": report.startedAt.replace(/\.\d+Z$/, ""),
    "@_hostname": hostname(),
    testcase: cases,
  });
  const suites = [suite("compat impact abi", abiCases, report.abi.durationMs)];
  if (report.tests)
    suites.push(suite("compat impact tests", testCases, report.durationMs - report.abi.durationMs));
  const all = [...abiCases, ...testCases];
  const doc = {
    "?xml": { "@_version": "1.0", "@_encoding": "UTF-8" },
    testsuites: {
      "@_name": "compat impact",
      "@_tests": String(all.length),
      "@_failures": failures(all),
      "@_errors": "0",
      "@_time": seconds(report.durationMs),
      testsuite: suites,
    },
  };
  return junitXml(doc);
}
