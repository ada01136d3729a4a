/**
 * The `impact` gate of the update loop: a candidate may be approved only when it breaks nothing of
 * the software built on the published layer. A thin face over runImpact (src/impact): the
 * software trees and tests come from the layer's `impact` section of the site config; the
 * published side is the candidate's base (the full artifact the target holds), unpacked by the
 * real local publisher (verified, as a publish would) into the gate's scratch directory; verdicts
 * are cached by content under the site's state dir, so the published layer's side is judged once
 * across candidates. Bad input (a missing tree, a bad tests file) throws, and the runner records
 * the gate as `error` with the message; the report is the impact report, under `impact`.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type ImpactLayer, type ImpactReport, runImpact } from "../../impact/index.js";
import { softwareTree } from "../../impact/software.js";
import { loadTestSuite, type TestSuite } from "../../impact/tests.js";
import { LocalPublisher } from "../../publish/local.js";
import type { SiteImpact, SiteLayer } from "../../site/load.js";
import type { ResolvedLayer } from "../../spec/resolve.js";
import type { ArtifactRecord } from "../../store/artifacts.js";
import type { JsonValue } from "../../store/json.js";
import type { Gate, GateContext, GateOutcome } from "./types.js";

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

/** A layer tree as the impact check takes it: the resolved layer's prefix and arch, its files at `local`. */
export function impactLayer(layer: ResolvedLayer, local: string, origin: string): ImpactLayer {
  return {
    prefix: layer.prefix,
    local,
    arch: layer.arch,
    flavor: layer.spec.flavor,
    trustedDirs: layer.trustedDirs,
    origin,
  };
}

/** The layer's impact section; a layer without one has no software the gate could check (nor the gate: `applies`). */
export function impactOf(ctx: Pick<GateContext, "site" | "layer">): SiteImpact | undefined {
  return ctx.site.layers[ctx.layer.name]?.impact;
}

/** What the gate reads of its context (the base only by path and sha256). */
export type ImpactGateInput = Pick<
  GateContext,
  "site" | "candidate" | "layer" | "tree" | "workDir" | "signal" | "note"
> & { base: { tree: Pick<ArtifactRecord, "path" | "sha256"> } | undefined };

async function run(ctx: ImpactGateInput): Promise<GateOutcome> {
  const impact = impactOf(ctx);
  if (!impact)
    return {
      state: "failed",
      summary: `layer ${ctx.layer.name} has no impact section in the site config: no software was checked`,
      report: { impact: null },
    };
  const software = impact.software.map((t) => softwareTree(t.path, t.at));
  const suite = await impactSuite(impact);
  const candidate = impactLayer(ctx.layer.layer, ctx.tree.prefixDir, `candidate ${ctx.candidate.id}`);
  let published: ImpactLayer | undefined;
  if (ctx.base) {
    ctx.note(`unpacking the published layer ${ctx.base.tree.sha256.slice(0, 12)} (verified) to compare with`);
    const repo = new LocalPublisher(join(ctx.workDir, "published"));
    await mkdir(repo.root, { recursive: true });
    await repo.publish({
      artifact: ctx.base.tree.path,
      approvedSha256: ctx.base.tree.sha256,
      signal: ctx.signal,
    });
    published = impactLayer(
      ctx.layer.layer,
      join(repo.root, "versions", ctx.layer.topDir),
      `published layer ${ctx.base.tree.sha256}`,
    );
  }
  const report: ImpactReport = await runImpact({
    candidate,
    published,
    software,
    suite,
    cacheDir: join(ctx.site.stateDir, "cache", "impact"),
    progress: (m) => ctx.note(m),
  });
  const s = report.summary;
  const summary =
    s.objects === 0
      ? "no dynamically linked ELF object in the software trees: nothing was checked"
      : `${s.objects} objects: ${s.regressions} ABI regression${s.regressions === 1 ? "" : "s"}${published ? "" : " (no published layer: every problem counts)"}; ${s.tests} test${s.tests === 1 ? "" : "s"}: ${s.testRegressions} failing`;
  return {
    state: s.verdict === "pass" ? "passed" : "failed",
    summary,
    report: { impact: JSON.parse(JSON.stringify(report)) as JsonValue },
  };
}

export const impactGate = {
  id: "impact",
  title: "impact on the software layer",
  proves:
    "every ELF object of the software trees built on the published layer still loads on the candidate (sonames, symbol versions, symbols, as the loader resolves them) and the stack's own tests that passed on the published layer pass on the candidate; at least one object was checked",
  /** Only layers whose site config names software built on them have this gate. */
  applies: (layer: SiteLayer): boolean => layer.impact !== undefined,
  run,
} satisfies Gate;
