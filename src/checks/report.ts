/**
 * A check report as machines read it (JSON, schema in docs/cli.md) and as CI reads it (JUnit XML,
 * valid against the Jenkins xUnit plugin's junit-10.xsd), and the report files a build leaves in
 * its run directory. The text form for people is rendered by the CLI.
 */
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { XMLBuilder } from "fast-xml-parser";
import type { CheckReport } from "./runner.js";
import type { CheckResult, Evidence } from "./types.js";

/** The `--json` document: `{"target", "results":[{"id","title","status","evidence","durationMs"}], "summary"}`. */
export function reportJson(report: CheckReport): unknown {
  return {
    target: report.target,
    startedAt: report.startedAt,
    durationMs: report.durationMs,
    results: report.results.map((r) => ({
      id: r.id,
      title: r.title,
      status: r.status,
      evidence: r.evidence,
      durationMs: r.durationMs,
    })),
    summary: report.summary,
  };
}

/** A one-line form of a text (whitespace collapsed, cut at `max` characters). */
export function oneLine(s: string, max = 90): string {
  const line = s.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Lines describing one result's evidence, indented for the text report. */
export function evidenceLines(e: Evidence, maxItems = 20): string[] {
  const out: string[] = [];
  for (const cmd of e.ran ?? []) out.push(`ran:      ${cmd}`);
  if (e.read && e.read.length > 0)
    out.push(
      `read:     ${e.read.slice(0, 5).join(", ")}${e.read.length > 5 ? ` (+${e.read.length - 5})` : ""}`,
    );
  if (e.expected) out.push(`expected: ${e.expected}`);
  out.push(`found:    ${e.found}`);
  const files = e.files ?? [];
  if (files.length > 0) {
    out.push(`files (${files.length}):`);
    for (const f of files.slice(0, maxItems)) out.push(`  ${f}`);
    if (files.length > maxItems) out.push(`  … and ${files.length - maxItems} more (see --json)`);
  }
  const details = e.details ?? [];
  if (details.length > 0) {
    out.push("details:");
    for (const d of details.slice(0, maxItems)) out.push(`  ${d}`);
    if (details.length > maxItems) out.push(`  … and ${details.length - maxItems} more (see --json)`);
  }
  if (e.output) {
    out.push("output:");
    for (const l of e.output.split("\n").slice(-15)) out.push(`  | ${l}`);
  }
  return out;
}

function evidenceText(r: CheckResult): string {
  return evidenceLines(r.evidence, 200).join("\n");
}

/** JUnit XML: one testsuite, one testcase per check; failures carry the evidence. */
export function reportJUnit(report: CheckReport): string {
  const s = report.summary;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const classname = `compat.check.${report.target.flavor}`;
  const testcases = report.results.map((r) => {
    const tc: Record<string, unknown> = {
      "@_name": `${r.id}: ${r.title}`,
      "@_classname": classname,
      "@_time": seconds(r.durationMs),
    };
    if (r.status === "fail")
      tc.failure = {
        "@_message": oneLine(r.evidence.found, 500),
        "@_type": "CheckFailed",
        "#text": evidenceText(r),
      };
    else if (r.status === "skip") tc.skipped = { "@_message": oneLine(r.evidence.found, 500) };
    else tc["system-out"] = evidenceText(r);
    return tc;
  });
  const t = report.target;
  const properties = Object.entries({
    prefix: t.prefix,
    localPrefix: t.localPrefix,
    flavor: t.flavor,
    arch: t.arch,
    os: t.os,
    version: t.version ?? "",
  }).map(([name, value]) => ({ "@_name": name, "@_value": value }));
  const doc = {
    "?xml": { "@_version": "1.0", "@_encoding": "UTF-8" },
    testsuites: {
      "@_name": "compat check",
      "@_tests": String(s.total),
      "@_failures": String(s.failed),
      "@_errors": "0",
      "@_time": seconds(report.durationMs),
      testsuite: {
        "@_name": `compat check ${t.prefix}`,
        "@_tests": String(s.total),
        "@_failures": String(s.failed),
        "@_errors": "0",
        "@_skipped": String(s.skipped),
        "@_time": seconds(report.durationMs),
        "@_timestamp": report.startedAt.replace(/\.\d+Z$/, ""),
        "@_hostname": hostname(),
        properties: { property: properties },
        testcase: testcases,
      },
    },
  };
  return junitXml(doc);
}

/** Characters XML 1.0 cannot hold, even escaped (control characters a file name or an output may have). */
const NOT_XML = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

function xmlSafe(v: unknown): unknown {
  if (typeof v === "string") return v.replace(NOT_XML, "\ufffd");
  if (Array.isArray(v)) return v.map(xmlSafe);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, xmlSafe(x)]));
  return v;
}

/**
 * A JUnit document (fast-xml-parser's object form, attributes as `@_name`) as XML text. Strings
 * come from files, ELF objects and program output: characters XML cannot hold become U+FFFD, so
 * the file always parses.
 */
export function junitXml(doc: Record<string, unknown>): string {
  const builder = new XMLBuilder({
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    format: true,
    suppressEmptyNode: true,
    processEntities: true,
  });
  return builder.build(xmlSafe(doc)) as string;
}

/** Where writeCheckReport puts the report in a directory (a build's run directory). */
export const REPORT_FILES = { json: "check-report.json", junit: "check-report.junit.xml" } as const;

/** Write the JSON and JUnit forms of a report into `dir`; returns their paths. */
export async function writeCheckReport(
  dir: string,
  report: CheckReport,
): Promise<{ json: string; junit: string }> {
  const json = join(dir, REPORT_FILES.json);
  const junit = join(dir, REPORT_FILES.junit);
  await writeFile(json, `${JSON.stringify(reportJson(report), null, 2)}\n`);
  await writeFile(junit, reportJUnit(report));
  return { json, junit };
}
