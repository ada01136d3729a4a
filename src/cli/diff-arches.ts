/**
 * `compat diff --arches SPEC [--sets DIR]` and `compat diff --arches LAYER_A LAYER_B …
 * [--check-report FILE …]`: how equal one version's layers are across CPU families, as a table
 * for people or JSON for machines. Exit 0 when every arch gets the same, 1 when they differ.
 */
import { statSync } from "node:fs";
import type { ArchComparison } from "../diff/arches.js";
import type { LayerArchDiff } from "../diff/layer-arches.js";
import type { SpecArchDiff } from "../diff/spec-arches.js";
import { InputError } from "../errors.js";
import type { Arch } from "../layer/id.js";
import { log } from "../log.js";
import { renderTable, style, withoutControls } from "../text.js";
import { printJson } from "./output.js";

export interface DiffArchesOptions {
  json?: boolean;
  sets?: string;
  checkReport?: string[];
}

const SPEC_RE = /\.ya?ml$/;

/**
 * Text from a layer's database or a check report, as a table cell: control characters (a terminal
 * escape in a hostile artifact's dpkg status) are shown as `?`.
 */
const printable = (s: string) => withoutControls(s, () => "?");

/** Rows of a comparison: one per arch-specific or differing item, a column per arch. */
function comparisonTable(c: ArchComparison, what: string, absent = "—"): string {
  const rows: string[][] = [
    ...c.archSpecific.map((i) => [
      printable(i.name),
      style.yellow(`only on ${i.on.join(", ")}`),
      ...c.arches.map((a) => (i.values[a] === undefined ? style.dim(absent) : printable(i.values[a]!))),
    ]),
    ...c.differing.map((i) => [
      printable(i.name),
      style.yellow("differs"),
      ...c.arches.map((a) => printable(i.values[a] ?? "")),
    ]),
  ];
  const out: string[] = [];
  if (rows.length > 0) out.push(renderTable([what, "difference", ...c.arches], rows));
  else out.push(`  the same on ${c.arches.join(", ")}`);
  out.push(`  ${c.common} the same on every arch`);
  return out.join("\n");
}

/** `withSets`: the spec's flavor installs package sets (Portage's), shown per arch. */
export function renderSpecArchDiff(d: SpecArchDiff, withSets: boolean): string {
  const out: string[] = [
    style.bold(
      `${d.stack} ${d.version} · ${d.os} · ${d.flavor} flavor · ${d.arches.join(", ")} (from ${d.spec})`,
    ),
    "",
    renderTable(
      withSets ? ["arch", "packages", "sets"] : ["arch", "packages"],
      d.perArch.map((c) => [
        c.arch,
        `${c.packages}${c.setsRead ? "" : " + the sets'"}`,
        ...(withSets ? [c.sets.map((s) => `@${s}`).join(" ") || "—"] : []),
      ]),
    ),
    "",
    style.bold(
      `Arch-specific packages (${d.packages.archSpecific.length}), different on each arch (${d.packages.differing.length})`,
    ),
    comparisonTable(d.packages, "package"),
  ];
  for (const n of d.notes) out.push(style.dim(`note: ${n}`));
  return `${out.join("\n")}\n`;
}

export function renderLayerArchDiff(d: LayerArchDiff): string {
  const first = d.layers[0]!;
  const out: string[] = [
    style.bold(
      printable(
        `${first.stack ?? "?"} ${first.version ?? "?"} · ${first.os} · ${first.flavor} · ${d.layers.map((l) => l.arch).join(", ")}`,
      ),
    ),
    "",
    renderTable(
      ["arch", "layer", "packages", "check report"],
      d.layers.map((l) => [l.arch, printable(l.source), String(l.packages), printable(l.checkReport ?? "—")]),
    ),
    "",
    style.bold(
      `Packages (${d.packages.database}): ${d.packages.archSpecific.length} on some arches only, ${d.packages.differing.length} in different versions`,
    ),
    comparisonTable(d.packages, "package"),
  ];
  if (d.checks) {
    out.push(
      "",
      style.bold(
        `Checks: ${d.checks.differing.length + d.checks.archSpecific.length} with different results (${d.checks.arches.join(", ")})`,
      ),
      comparisonTable(d.checks, "check", "not run"),
    );
    for (const [id, found] of Object.entries(d.checks.found))
      for (const [arch, f] of Object.entries(found) as [Arch, string][])
        out.push(style.dim(`  ${id} on ${arch}: ${printable(f)}`));
  }
  for (const n of d.notes) out.push(style.dim(`note: ${n}`));
  return `${out.join("\n")}\n`;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The action of `compat diff --arches`; sets process.exitCode to 1 when the arches differ. */
export async function diffArches(sources: string[], opts: DiffArchesOptions): Promise<void> {
  const reports = opts.checkReport ?? [];
  if (sources.length === 1 && SPEC_RE.test(sources[0]!) && !isDirectory(sources[0]!)) {
    if (reports.length > 0)
      throw new InputError("--check-report compares built layers, not a spec", {
        hint: "compat diff --arches LAYER_A LAYER_B … --check-report A.json --check-report B.json",
      });
    const { loadSpec } = await import("../spec/load.js");
    const { specArchDiff } = await import("../diff/spec-arches.js");
    const { setFilesIn } = await import("../diff/set-files.js");
    const { flavorHas } = await import("../flavors/index.js");
    const { spec, file } = await loadSpec(sources[0]!);
    const withSets = flavorHas(spec.flavor, "portage");
    if (opts.sets && !withSets)
      throw new InputError(
        `--sets: ${file} is a ${spec.flavor}-flavor spec, and package sets are Portage's`,
        {
          hint: "leave --sets out for this spec",
        },
      );
    const d = specArchDiff(spec, file, opts.sets ? setFilesIn(opts.sets) : undefined);
    if (opts.json) printJson(d);
    else process.stdout.write(renderSpecArchDiff(d, withSets));
    const { hasArchDifferences } = await import("../diff/arches.js");
    if (hasArchDifferences(d.packages)) process.exitCode = 1;
    return;
  }
  if (opts.sets)
    throw new InputError("--sets reads the package sets of a spec, not of built layers", {
      hint: "compat diff --arches SPEC --sets DIR",
    });
  const specs = sources.filter((s) => SPEC_RE.test(s) && !isDirectory(s));
  if (specs.length > 0)
    throw new InputError(`${specs.join(", ")}: a spec among layers`, {
      hint: "compare one spec's arches (compat diff --arches SPEC) or built layers (compat diff --arches LAYER_A LAYER_B …)",
    });
  const { layerArchDiff, layerArchDiffHasDifferences, openArchLayer, readCheckReport } = await import(
    "../diff/layer-arches.js"
  );
  log.info(`reading ${sources.join(", ")}`);
  const layers = [];
  for (const s of sources) layers.push(await openArchLayer(s));
  const parsed = [];
  for (const r of reports) parsed.push(await readCheckReport(r));
  const d = layerArchDiff(layers, parsed);
  if (opts.json) printJson(d);
  else process.stdout.write(renderLayerArchDiff(d));
  if (layerArchDiffHasDifferences(d)) process.exitCode = 1;
}
