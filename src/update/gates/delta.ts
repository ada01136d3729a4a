/**
 * The `delta` gate: what a promotion would publish gives exactly the candidate's full artifact.
 * The target must still hold the layer the candidate was built over; that layer's artifact is
 * published into a scratch repository by the real local publisher, the delta is published onto
 * it (verified, deletions, extraction, patches checked against both sha256s), and the resulting
 * tree is compared entry by entry (path, type, mode, content sha256, link target) with the full
 * artifact. A first candidate (nothing published yet) has no delta: its full artifact is published
 * into an empty scratch repository and compared the same way.
 */

import { diffIndexes } from "../../artifacts/diff.js";
import { indexArtifact, indexTree } from "../../artifacts/entry-index.js";
import type { JsonValue } from "../../store/json.js";
import { assertArtifactUnchanged } from "../artifact-files.js";
import { ScratchRepository } from "../scratch-repo.js";
import { heldLayer, publisherOf } from "../targets.js";
import type { Gate, GateContext, GateOutcome } from "./types.js";

const SHOWN = 20;

const brief = (a: { sha256: string; path: string; size: number; manifestSha256: string }) => ({
  sha256: a.sha256,
  manifestSha256: a.manifestSha256,
  artifact: a.path.split("/").at(-1) ?? a.path,
  size: a.size,
});

async function run(ctx: GateContext): Promise<GateOutcome> {
  const { full, delta, base, layer } = ctx;
  assertArtifactUnchanged(full, "the delta gate");
  const scratch = new ScratchRepository(`${ctx.workDir}/repo`);
  const report: { [key: string]: JsonValue } = {
    target: ctx.target.name,
    full: brief(full),
    delta: delta ? brief(delta) : null,
    base: base ? brief(base.tree) : null,
  };
  if (base && delta) {
    const held = await heldLayer(ctx.store, base.target, publisherOf(base.target), layer.topDir);
    report.heldNow = held?.tree.sha256 ?? null;
    if (held?.tree.sha256 !== base.tree.sha256)
      return {
        state: "failed",
        summary: `${base.target.name} no longer holds the layer the delta applies to`,
        report: {
          ...report,
          reason: `the candidate was built over ${base.tree.sha256}; ${base.target.name} now holds ${held ? held.tree.sha256 : "nothing"}`,
        },
      };
    assertArtifactUnchanged(base.tree, "the delta gate (the base)");
    assertArtifactUnchanged(delta, "the delta gate");
    ctx.note(
      `publishing the base ${report.base && (report.base as { artifact: string }).artifact} into a scratch repository`,
    );
    await scratch.publish(base.tree.path, base.tree.sha256, ctx.signal);
    ctx.note("applying the delta onto it");
    await scratch.publish(delta.path, delta.sha256, ctx.signal);
    report.mode = "delta onto the published layer";
  } else {
    ctx.note("publishing the full artifact into an empty scratch repository");
    await scratch.publish(full.path, full.sha256, ctx.signal);
    report.mode = base ? "full artifact (no delta was made)" : "full artifact (first publication)";
  }
  ctx.note("comparing the result with the full artifact, entry by entry");
  const got = indexTree(scratch.layerPath(layer.topDir));
  const { index: want } = await indexArtifact(full.path);
  const d = diffIndexes(want, got);
  const differences = [
    ...d.added.map((p) => `extra: ${p}`),
    ...d.removed.map((p) => `missing: ${p}`),
    ...d.changed.map((p) => `differs: ${p}`),
  ];
  report.entries = want.size;
  report.differences = differences.slice(0, SHOWN);
  report.differenceCount = differences.length;
  if (delta) report.deltaRatio = Number((delta.size / full.size).toFixed(4));
  if (want.size === 0)
    return { state: "failed", summary: "the full artifact has no entries: nothing was compared", report };
  if (differences.length > 0)
    return {
      state: "failed",
      summary: `the published result differs from the candidate in ${differences.length} entr${differences.length === 1 ? "y" : "ies"}`,
      report,
    };
  return {
    state: "passed",
    summary: `${base && delta ? "the delta applied to the published layer" : "the full artifact published"} gives the candidate's ${want.size} entries exactly${delta ? ` (delta ${(100 * (delta.size / full.size)).toFixed(1)} % of the full artifact)` : ""}`,
    report,
  };
}

export const deltaGate: Gate = {
  id: "delta",
  title: "delta applies",
  proves:
    "the delta, applied by the real publisher to the layer the target holds now, gives exactly the candidate's full artifact (every path, type, mode, content and link); without a base, the full artifact publishes to exactly itself",
  run,
};
