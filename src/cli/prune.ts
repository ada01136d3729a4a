/**
 * `compat prune [--root DIR]… [--runs-dir DIR] [--artifacts DIR]… [--keep-runs N] [--keep-backups N]
 * [--dry-run] [--json]`: remove what builds, packs and publishes left and nothing uses any more.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { InputError } from "../errors.js";
import { printableText, renderTable, style } from "../text.js";
import { DEFAULT_RUNS_DIR } from "./build.js";
import { jsonOption, rootOption } from "./common-options.js";
import { printJson, shown } from "./output.js";

interface PruneCliOptions {
  root: string[];
  runsDir: string;
  artifacts: string[];
  keepRuns: string;
  keepBackups?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** Where `compat build` puts repository roots by default: `compat-root/<repository>`. */
const DEFAULT_ROOTS_DIR = "compat-root";
/** Where `compat pack` writes by default. */
const DEFAULT_ARTIFACTS_DIR = "artifacts";

const collect = (v: string, acc: string[]) => [...acc, v];

function count(option: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new InputError(`${option} ${value}: not a number (0 or more)`);
  return Number(value);
}

const isDirectory = (d: string) => {
  try {
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
};

function existingDirs(option: string, dirs: string[]): string[] {
  for (const d of dirs) if (!isDirectory(d)) throw new InputError(`${option} ${d}: no such directory`);
  return dirs.map((d) => resolve(d));
}

export function register(program: Command): void {
  program
    .command("prune")
    .description(
      "remove what failed or killed builds and packs left (build and run dirs, partial files) and old kept layers; --dry-run lists it with sizes",
    )
    .addOption(
      rootOption(
        `a local repository root (build root or local: publish target); repeatable (default: each directory in ${DEFAULT_ROOTS_DIR}/)`,
      )
        .argParser(collect)
        .default([]),
    )
    .option("--runs-dir <dir>", "where run directories are", DEFAULT_RUNS_DIR)
    .option(
      "--artifacts <dir>",
      `a directory packs wrote into; repeatable (default: ${DEFAULT_ARTIFACTS_DIR})`,
      collect,
      [],
    )
    .option("--keep-runs <n>", "keep the newest N run directories", "10")
    .option(
      "--keep-backups <n>",
      "also remove kept layers (.<arch>-NNN) beyond the newest N of each layer (never the one rollback restores)",
    )
    .option("--dry-run", "list what would be removed and how much space it holds; remove nothing")
    .addOption(jsonOption())
    .action(async (opts: PruneCliOptions) => {
      const roots =
        opts.root.length > 0
          ? existingDirs("--root", opts.root)
          : existsSync(DEFAULT_ROOTS_DIR)
            ? readdirSync(DEFAULT_ROOTS_DIR)
                .map((d) => resolve(DEFAULT_ROOTS_DIR, d))
                .filter(isDirectory)
            : [];
      const artifactDirs =
        opts.artifacts.length > 0
          ? existingDirs("--artifacts", opts.artifacts)
          : [resolve(DEFAULT_ARTIFACTS_DIR)].filter(isDirectory);
      const runsDir = resolve(opts.runsDir);
      const { findPrunable, removePrunable } = await import("../pipeline/prune.js");
      const { formatBytes } = await import("../exec/disk.js");
      const plan = findPrunable({
        roots,
        runsDir,
        artifactDirs,
        keepRuns: count("--keep-runs", opts.keepRuns),
        keepBackups: opts.keepBackups === undefined ? undefined : count("--keep-backups", opts.keepBackups),
      });
      const removed = opts.dryRun ? [] : await removePrunable(plan, runsDir);
      const items = opts.dryRun ? plan.items : removed;
      const totalBytes = items.reduce((n, i) => n + i.bytes, 0);
      if (opts.json) {
        printJson({
          dryRun: Boolean(opts.dryRun),
          roots,
          runsDir,
          artifactDirs,
          items,
          totalBytes,
          notes: plan.notes,
        });
        return;
      }
      for (const n of plan.notes) process.stderr.write(`note: ${printableText(n)}\n`);
      if (items.length === 0) {
        process.stdout.write(
          `nothing to prune (looked in ${[...roots, runsDir, ...artifactDirs].map(shown).join(", ") || "nothing"})\n`,
        );
        return;
      }
      process.stdout.write(
        `${renderTable(
          ["KIND", "SIZE", "PATH", "WHY"],
          items.map((i) => [i.kind, formatBytes(i.bytes), shown(i.path), i.reason]),
        )}\n${
          opts.dryRun
            ? `${style.bold(`would free ${formatBytes(totalBytes)}`)} (dry run: nothing was removed; run without --dry-run to remove it)`
            : `${style.green(`freed ${formatBytes(totalBytes)}`)} (${items.length} removed)`
        }\n`,
      );
    });
}
