/** `compat diff A B [--json] [--files]`: packages and files that differ between two layers. */
import type { Command } from "commander";
import type { BuildRootDiff, LayerDiff, PackageDiff } from "../artifacts/diff.js";
import { InputError } from "../errors.js";
import { log } from "../log.js";
import { renderTable, printableText as shown, style } from "../text.js";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

// names, versions and paths come from two layers' databases and build records (a build host's, a
// pull request's): shown with their control characters escaped
const nameOf = (x: { name: string; arch?: string }) => shown(x.arch ? `${x.name}:${x.arch}` : x.name);

function packageRows(p: PackageDiff): string[] {
  const rows: string[][] = [
    ...p.added.map((x) => [style.green("added"), nameOf(x), "", shown(x.version)]),
    ...p.removed.map((x) => [style.red("removed"), nameOf(x), shown(x.version), ""]),
    ...p.upgraded.map((x) => ["upgraded", shown(x.name), shown(x.from), shown(x.to)]),
    ...p.downgraded.map((x) => [style.yellow("downgraded"), shown(x.name), shown(x.from), shown(x.to)]),
  ];
  return [
    rows.length ? renderTable(["change", "package", "before", "after"], rows) : "  no package changes",
    `  ${p.unchanged} unchanged`,
  ];
}

export function renderDiff(d: LayerDiff, listFiles: boolean): string {
  const out: string[] = [style.bold(shown(`${d.a} → ${d.b}`))];
  const p = d.packages;
  if (p) out.push("", style.bold(`Packages (${p.database})`), ...packageRows(p));
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
        for (const path of list) out.push(`  ${mark} ${shown(path)}`);
  }
  const r = d.buildRoot;
  if (r) {
    const name = (x: BuildRootDiff["a"]) =>
      x ? shown(`${x.identity.slice(0, 12)} (${x.suite}, ${x.arch})`) : "none (the host's userland)";
    out.push(
      "",
      style.bold("Build root"),
      `  ${name(r.a)} → ${name(r.b)}`,
      ...(r.a && r.b ? packageRows(r.packages) : []),
    );
  }
  for (const n of d.notes) out.push(style.dim(`note: ${shown(n)}`));
  return `${out.join("\n")}\n`;
}

export function register(program: Command): void {
  program
    .command("diff")
    .description(
      "compare two layers (prefixes, artifacts or package lists): packages and files; exit 1 when they differ. With --arches: one spec's or one version's layers across CPU families",
    )
    .argument(
      "<a>",
      "the older layer: a prefix, an artifact or a package list (--arches: a spec, or a layer)",
    )
    .argument("[b]", "the newer layer (--arches: another arch's layer)")
    .argument("[more...]", "--arches: the layers of more arches")
    .option("--files", "list every added, removed and changed path")
    .option(
      "--arches",
      "compare across arches: a spec's arches, or the layers of one version built for several",
    )
    .option(
      "--sets <dir>",
      "--arches SPEC: read the package sets from this directory (an overlay's etc/portage/sets/)",
    )
    .option(
      "--check-report <file>",
      "--arches LAYERS: a compat check --json report of one of the layers (repeat, one per arch)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addOption(jsonOption("print the differences as JSON (schema in docs/cli.md)"))
    .action(async (a: string, b: string | undefined, more: string[], opts: DiffOptions) => {
      if (opts.arches) {
        if (opts.files)
          throw new InputError(
            "--files lists the paths of two layers; across arches, files differ by nature",
          );
        const { diffArches } = await import("./diff-arches.js");
        return diffArches([a, ...(b === undefined ? [] : [b]), ...more], opts);
      }
      if (b === undefined || more.length > 0 || opts.sets || opts.checkReport)
        throw new InputError(
          b === undefined
            ? "diff compares two layers: give A and B"
            : more.length > 0
              ? `diff compares two layers, and ${more.length + 2} were given`
              : `${opts.sets ? "--sets" : "--check-report"} goes with --arches`,
          { hint: "compat diff A B, or compat diff --arches SPEC | LAYER_A LAYER_B …" },
        );
      const { diffLayers, hasDifferences, loadSide } = await import("../artifacts/diff.js");
      log.info(`reading ${a} and ${b}`);
      const [left, right] = await Promise.all([loadSide(a), loadSide(b)]);
      const d = diffLayers(left, right);
      if (opts.json) printJson(d);
      else process.stdout.write(renderDiff(d, Boolean(opts.files)));
      if (hasDifferences(d)) process.exitCode = 1;
    });
}

interface DiffOptions {
  json?: boolean;
  files?: boolean;
  arches?: boolean;
  sets?: string;
  checkReport?: string[];
}
