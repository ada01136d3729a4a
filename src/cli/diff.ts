/** `compat diff A B [--json] [--files]`: packages and files that differ between two layers. */
import type { Command } from "commander";
import type { LayerDiff } from "../artifacts/diff.js";
import { log } from "../log.js";
import { renderTable, style } from "../text.js";
import { printJson } from "./output.js";

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export function renderDiff(d: LayerDiff, listFiles: boolean): string {
  const out: string[] = [style.bold(`${d.a} → ${d.b}`)];
  const p = d.packages;
  if (p) {
    out.push("", style.bold(`Packages (${p.database})`));
    const rows: string[][] = [
      ...p.added.map((x) => [style.green("added"), x.arch ? `${x.name}:${x.arch}` : x.name, "", x.version]),
      ...p.removed.map((x) => [style.red("removed"), x.arch ? `${x.name}:${x.arch}` : x.name, x.version, ""]),
      ...p.upgraded.map((x) => ["upgraded", x.name, x.from, x.to]),
      ...p.downgraded.map((x) => [style.yellow("downgraded"), x.name, x.from, x.to]),
    ];
    out.push(
      rows.length ? renderTable(["change", "package", "before", "after"], rows) : "  no package changes",
    );
    out.push(`  ${p.unchanged} unchanged`);
  }
  const f = d.files;
  if (f) {
    out.push(
      "",
      style.bold("Files"),
      `  added    ${f.added.length} (${mb(f.bytesAdded)})`,
      `  removed  ${f.removed.length} (${mb(f.bytesRemoved)})`,
      `  changed  ${f.changed.length} (${mb(f.bytesChanged)} now)`,
    );
    if (listFiles)
      for (const [mark, list] of [
        ["+", f.added],
        ["-", f.removed],
        ["~", f.changed],
      ] as const)
        for (const path of list) out.push(`  ${mark} ${path}`);
  }
  for (const n of d.notes) out.push(style.dim(`note: ${n}`));
  return `${out.join("\n")}\n`;
}

export function register(program: Command): void {
  program
    .command("diff")
    .description(
      "compare two layers (prefixes, artifacts or package lists): packages and files; exit 1 when they differ",
    )
    .argument("<a>", "the older layer: a prefix, an artifact or a package list")
    .argument("<b>", "the newer layer")
    .option("--files", "list every added, removed and changed path")
    .option("--json", "print the differences as JSON (schema in docs/cli.md)")
    .action(async (a: string, b: string, opts: { json?: boolean; files?: boolean }) => {
      const { diffLayers, hasDifferences, loadSide } = await import("../artifacts/diff.js");
      log.info(`reading ${a} and ${b}`);
      const [left, right] = await Promise.all([loadSide(a), loadSide(b)]);
      const d = diffLayers(left, right);
      if (opts.json) printJson(d);
      else process.stdout.write(renderDiff(d, Boolean(opts.files)));
      if (hasDifferences(d)) process.exitCode = 1;
    });
}
