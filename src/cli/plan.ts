/**
 * `compat plan SPEC [--arch A] [--json] [-o FILE]`: what a build of one arch would do and write.
 */
import type { Command } from "commander";
import type { LayerPlan, SetSource } from "../flavors/plan.js";
import { log } from "../log.js";
import { renderTable, style } from "../text.js";
import { archOption, jsonOption } from "./common-options.js";
import { writeResult } from "./output-file.js";

interface PlanOptions {
  arch?: string;
  json?: boolean;
  output?: string;
}

export function register(program: Command): void {
  program
    .command("plan")
    .description("show what a build of one arch would do: prefix, stages, packages, files and host links")
    .argument("<spec>", "layer spec (YAML)")
    .addOption(archOption("CPU family to plan for (default: the host's, when the spec lists it)"))
    .addOption(jsonOption("print the plan as JSON (schema in docs/cli.md)"))
    .option("-o, --output <file>", "write the plan to this file instead of stdout")
    .action(async (specFile: string, opts: PlanOptions) => {
      const { openSpec } = await import("../spec/open.js");
      const { planOf, planProblems } = await import("../flavors/index.js");
      const { flavorHas } = await import("../flavors/index.js");
      const { layer } = await openSpec(specFile, { arch: opts.arch, check: planProblems });
      const plan = planOf(layer);
      for (const w of plan.warnings) log.warn(w);
      await writeResult(
        opts.json
          ? `${JSON.stringify(plan, null, 2)}\n`
          : renderPlanText(plan, flavorHas(plan.flavor, "portage")),
        opts.output,
      );
    });
}

/** Where Portage finds a set: its own, a set file, or a file the overlays stage links into place. */
export function describeSetSource(s: SetSource): string {
  if (s.from === "portage") return "(Portage's own set)";
  const [path, ...elsewhere] = s.lookIn;
  if (elsewhere.length === 0) return `(the set file ${path})`;
  const from = elsewhere.length === 1 ? elsewhere[0] : `the first of ${elsewhere.join(", ")}`;
  return `(the set file ${path}, else linked there by the overlays stage from ${from})`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The plan for people; `withSets`: the flavor installs package sets (Portage's), counted apart. */
export function renderPlanText(plan: LayerPlan, withSets: boolean): string {
  const out: string[] = [];
  out.push(
    style.bold(`${plan.stack} ${plan.version} · ${plan.os}/${plan.arch} · ${plan.flavor} flavor`),
    `prefix      ${plan.prefix}`,
    `repository  ${plan.repository}`,
    "",
    style.bold(`Stages (${plan.stages.length})`),
    renderTable(
      ["#", "stage", "what it does"],
      plan.stages.map((s, i) => [String(i + 1), s.id, s.description]),
    ),
    "",
  );

  const counts = [plural(plan.packages.length, "package")];
  if (withSets) counts.unshift(plural(plan.sets.length, "set"));
  if (plan.removePackages.length > 0) counts.push(`${plan.removePackages.length} removed at the end`);
  out.push(style.bold(`Packages (${counts.join(", ")})`));
  for (const s of plan.setSources) out.push(`  ${s.set}  ${style.dim(describeSetSource(s))}`);
  for (const p of plan.packages) out.push(`  ${p}`);
  if (plan.removePackages.length > 0) out.push(`  removed at the end: ${plan.removePackages.join(" ")}`);
  out.push("");

  const files = Object.entries(plan.files);
  out.push(style.bold(`Files written into the prefix (${files.length})`));
  out.push(
    renderTable(
      ["path", "bytes", "how", "from"],
      files.map(([path, f]) => [
        path,
        String(Buffer.byteLength(f.content)),
        f.apply === "add-lines" ? "add lines" : "write",
        f.from,
      ]),
    ),
  );
  out.push("");
  if (plan.portageLinks.length > 0) {
    out.push(style.bold(`Overlay configuration linked into the prefix (${plan.portageLinks.length})`));
    out.push(
      renderTable(
        ["path", "link to", "overlay"],
        plan.portageLinks.map((l) => [l.path, l.target, l.overlay]),
      ),
    );
    out.push("");
  }

  const variant = plan.hostSymlinks.filter((l) => l.variant !== null && l.final === l.variant).length;
  out.push(
    style.bold(
      `Host symlinks (${plan.hostSymlinks.length}; plain during the build, ${variant} variant in the finished layer)`,
    ),
  );
  if (plan.hostSymlinks.length > 0)
    out.push(
      renderTable(
        ["path", "plain target", "final target"],
        plan.hostSymlinks.map((l) => [l.path, l.plain, l.final === l.plain ? "(plain)" : l.final]),
      ),
    );
  if (plan.warnings.length > 0) {
    out.push("", style.bold(`Warnings (${plan.warnings.length})`));
    for (const w of plan.warnings) out.push(`  ${style.yellow(w)}`);
  }
  return `${out.join("\n")}\n`;
}
