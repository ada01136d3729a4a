import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bareTarget, contextFor, tempDir } from "../../test/helpers/prefix-layout.js";
import { InputError } from "../errors.js";
import { reportJson, reportJUnit, writeCheckReport } from "./report.js";
import { runChecks } from "./runner.js";
import { type Check, fail, pass, skip } from "./types.js";

let cleanup = () => {};
afterEach(() => cleanup());

const make = (id: string, run: Check["run"], requires?: Check["requires"]): Check => ({
  id,
  title: `check ${id}`,
  proves: "something",
  requires,
  versions: "all",
  run,
});

const passing = make("a", async () => pass({ expected: "x", found: "x" }));
const failing = make("b", async () =>
  fail({
    expected: 'no <bad> & "quoted" things',
    found: "one <bad> thing",
    files: ["/p/x&y"],
    details: ["x: ]]> oops"],
  }),
);
const skipping = make("c", async () => skip("not here"));
const throwing = make("d", async () => {
  throw new Error("boom");
});
const gentooOnly = make("e", async () => pass({ expected: "", found: "" }), "portage");

function ctx() {
  const t = tempDir();
  cleanup = t.cleanup;
  return contextFor(bareTarget(t.dir));
}

describe("runChecks", () => {
  it("runs every check, turns a crash into a failure with its message, and skips other flavors' checks", async () => {
    const report = await runChecks(ctx(), { checks: [passing, failing, skipping, throwing, gentooOnly] });
    expect(report.results.map((r) => r.status)).toEqual(["pass", "fail", "skip", "fail", "skip"]);
    expect(report.results[3]!.evidence.found).toBe("the check could not run: boom");
    expect(report.results[4]!.evidence.found).toContain("gentoo flavor only");
    expect(report.summary).toEqual({ total: 5, passed: 1, failed: 2, skipped: 2, executed: 3, ok: false });
  });

  it("is not ok when no check ran to a verdict (ReFrame reported success on zero tests)", async () => {
    const report = await runChecks(ctx(), { checks: [skipping, gentooOnly] });
    expect(report.summary).toMatchObject({ executed: 0, failed: 0, ok: false });
  });

  it("skips a check on layer versions it does not declare, with the reason", async () => {
    const failingRun = async () => fail({ expected: "x", found: "y" });
    const notOn2025 = { ...make("v1", failingRun), versions: { except: ["2025.06"] } };
    const only2023 = { ...make("v2", failingRun), versions: { only: ["2023.06"] } };
    const on2023 = { ...make("v3", failingRun), versions: { only: ["2023.06", "2025.06"] } };
    const c = ctx(); // a 2025.06 layer
    const report = await runChecks(c, { checks: [notOn2025, only2023, on2023] });
    expect(report.results.map((r) => r.status)).toEqual(["skip", "skip", "fail"]);
    expect(report.results[0]!.evidence.found).toBe(
      "applies to layer versions all but 2025.06; this layer is 2025.06",
    );
    expect(report.results[1]!.evidence.found).toBe(
      "applies to layer versions 2023.06; this layer is 2025.06",
    );
    const unknown = { ...c, target: { ...c.target, version: undefined } };
    const u = await runChecks(unknown, { checks: [notOn2025, only2023] });
    expect(u.results.map((r) => r.status)).toEqual(["fail", "skip"]);
    expect(u.results[1]!.evidence.found).toContain("this layer is of an unknown version");
  });

  it("honours --only and --skip and names unknown ids with a suggestion", async () => {
    const c = ctx();
    const only = await runChecks(c, { checks: [passing, failing], only: ["a"] });
    expect(only.results.map((r) => [r.id, r.status])).toEqual([
      ["a", "pass"],
      ["b", "skip"],
    ]);
    const skipped = await runChecks(c, { checks: [passing, failing], skip: ["b"] });
    expect(skipped.summary.ok).toBe(true);
    const err = await runChecks(c, { checks: [passing, failing], only: ["aa"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).details).toEqual(["aa: did you mean a?"]);
  });
});

describe("reports", () => {
  it("gives the documented JSON shape", async () => {
    const report = await runChecks(ctx(), { checks: [passing, failing] });
    const json = reportJson(report) as { results: unknown[]; summary: unknown };
    expect(json.results[1]).toEqual({
      id: "b",
      title: "check b",
      status: "fail",
      evidence: expect.objectContaining({ files: ["/p/x&y"] }),
      durationMs: expect.any(Number),
    });
    expect(json.summary).toMatchObject({ total: 2, passed: 1, failed: 1 });
  });

  it("writes JUnit XML that validates against the JUnit schema (xmllint)", async () => {
    const c = ctx();
    const report = await runChecks(c, { checks: [passing, failing, skipping, throwing] });
    const xml = reportJUnit(report);
    const file = join(c.target.localPrefix, "junit.xml");
    writeFileSync(file, xml);
    const xsd = join(import.meta.dirname, "testdata/junit-10.xsd");
    const out = execFileSync("xmllint", ["--noout", "--schema", xsd, file], { stdio: "pipe" }).toString();
    expect(out).toBe("");
    expect(xml).toContain('tests="4" failures="2" errors="0" skipped="1"');
    expect(xml).toContain("one &lt;bad&gt; thing");
  });

  it("rejects an invalid document, so the validation above is not vacuous", () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const file = join(t.dir, "bad.xml");
    writeFileSync(file, '<testsuites><testsuite name="x"><testcase/></testsuite></testsuites>');
    const xsd = join(import.meta.dirname, "testdata/junit-10.xsd");
    expect(() => execFileSync("xmllint", ["--noout", "--schema", xsd, file], { stdio: "pipe" })).toThrow();
  });

  it("leaves both report files in a run directory", async () => {
    const c = ctx();
    const report = await runChecks(c, { checks: [passing] });
    const files = await writeCheckReport(c.target.localPrefix, report);
    expect(files.json.endsWith("check-report.json")).toBe(true);
    expect(execFileSync("xmllint", ["--noout", files.junit]).toString()).toBe("");
  });
});

describe("phases", () => {
  it("skips checks of the finished layer in the build's check stage", async () => {
    const finished = {
      ...make("f", async () => fail({ expected: "a record", found: "none" })),
      finishedOnly: true,
    };
    const c = ctx();
    const build = await runChecks(c, { checks: [passing, finished], phase: "build" });
    expect(build.results[1]).toMatchObject({ status: "skip" });
    expect(build.results[1]!.evidence.found).toContain("finished layer");
    const done = await runChecks(c, { checks: [passing, finished] });
    expect(done.results[1]!.status).toBe("fail");
  });
});
