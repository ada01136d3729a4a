/**
 * The `impact` gate of the update loop: a candidate may be approved only when it breaks nothing of
 * the software built on the published layer. A thin face over runImpact: the software trees and
 * test files come from the layer's `impact` section of the site config; the outcome is a gate state
 * and the impact report as JSON, which the store keeps with the gate (its sha256 goes into the
 * gates' digest an approval is bound to).
 *
 *   if (impactGate.applies(siteLayer)) {
 *     const outcome = await impactGate.run({ layer: siteLayer, candidate, published });
 *     await finishGate(store, candidateId, impactGate.id, { ...outcome, actor });
 *   }
 */
import { isCompatError } from "../errors.js";
import type { SiteImpact, SiteLayer } from "../site/load.js";
import type { JsonValue } from "../store/json.js";
import { type ImpactLayer, type ImpactReport, runImpact } from "./index.js";
import { softwareTree } from "./software.js";
import { loadTestSuite, type TestSuite } from "./tests.js";

export interface ImpactGateInput {
  /** The layer's entry of the site config (its `impact` section says what to check). */
  layer: Pick<SiteLayer, "name" | "impact">;
  /** The candidate's tree. */
  candidate: ImpactLayer;
  /** What is published at the target now; undefined for a first publication (every problem counts). */
  published?: ImpactLayer;
  progress?: (message: string) => void;
}

export interface GateOutcome {
  state: "passed" | "failed" | "error";
  /** One line for lists and notifications. */
  summary: string;
  report: JsonValue;
}

/** Every tests file of the layer's impact section, as one suite (names must differ across files). */
export async function impactSuite(impact: SiteImpact): Promise<TestSuite | undefined> {
  if (impact.tests.length === 0 && !impact.reframe) return undefined;
  const suite: TestSuite = { tests: [] };
  for (const file of impact.tests) {
    const s = await loadTestSuite(file);
    suite.tests.push(...s.tests);
    if (s.reframe) suite.reframe = s.reframe;
  }
  if (impact.reframe)
    suite.reframe = { command: impact.reframe, timeout: suite.reframe?.timeout ?? 6 * 3600 };
  return suite;
}

export const impactGate = {
  id: "impact",
  title: "the candidate breaks nothing of the software built on the published layer",

  /** A layer without an `impact` section has no software to check: the gate does not apply. */
  applies(layer: Pick<SiteLayer, "impact">): boolean {
    return layer.impact !== undefined;
  },

  async run(input: ImpactGateInput): Promise<GateOutcome> {
    const impact = input.layer.impact;
    if (!impact)
      return {
        state: "error",
        summary: `layer ${input.layer.name} has no impact section in the site config`,
        report: { error: "no software trees configured" },
      };
    let report: ImpactReport;
    try {
      report = await runImpact({
        candidate: input.candidate,
        published: input.published,
        software: impact.software.map((t) => softwareTree(t.path, t.at)),
        suite: await impactSuite(impact),
        progress: input.progress,
      });
    } catch (e) {
      if (!isCompatError(e)) throw e;
      return {
        state: "error",
        summary: e.message,
        report: { error: e.message, details: e.details, ...(e.hint ? { hint: e.hint } : {}) },
      };
    }
    const s = report.summary;
    const summary =
      s.objects === 0
        ? "no dynamically linked ELF object in the software trees: nothing was checked"
        : `${s.objects} objects: ${s.regressions} ABI regression${s.regressions === 1 ? "" : "s"}; ${s.tests} test${s.tests === 1 ? "" : "s"}: ${s.testRegressions} failing`;
    return {
      state: s.verdict === "pass" ? "passed" : "failed",
      summary,
      report: JSON.parse(JSON.stringify(report)) as JsonValue,
    };
  },
} as const;
