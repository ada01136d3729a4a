/**
 * `compat buildroot build SPEC [--arch A] [--refresh] [--json]`, `compat buildroot list [--json]`,
 * `compat buildroot prune [--keep N | --older-than DAYS] [--dry-run] [--json]`: the build roots
 * builds run in (src/buildroot), cached under `--state-dir` (default $COMPAT_STATE_DIR, else
 * /var/lib/compat as root, else $XDG_STATE_HOME/compat).
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { InputError } from "../errors.js";
import { log } from "../log.js";
import { printableText, renderTable, style } from "../text.js";
import { INTERRUPTED_EXIT } from "./executor-options.js";
import { printJson, shown } from "./output.js";

// entry names, problems and leftovers come from a disk others may have written: escaped, and cut
const cut = (s: string, max = 300) => printableText(s.length > max ? `${s.slice(0, max)}…` : s);
const pids = (users: number[], max = 5) =>
  users.length > max ? `${users.slice(0, max).join(", ")} and ${users.length - max} more` : users.join(", ");

interface StateOptions {
  stateDir?: string;
  json?: boolean;
}

async function stateDirOf(o: StateOptions): Promise<string> {
  const { defaultStateDir } = await import("../publish/target.js");
  return resolve(o.stateDir ?? process.env.COMPAT_STATE_DIR ?? defaultStateDir());
}

const STATE_DIR_HELP =
  "compat's state dir; build roots are in its buildroots/ (default $COMPAT_STATE_DIR, else /var/lib/compat as root, else $XDG_STATE_HOME/compat)";

function count(option: string, value: string, min: number): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < min)
    throw new InputError(`${option} ${printableText(value)}: not a whole number of ${min} or more`, {
      hint: `e.g. ${option} 3`,
    });
  return Number(value);
}

const day = (iso: string | undefined) => (iso ? iso.replace("T", " ").slice(0, 16) : "-");

export function register(program: Command): void {
  const cmd = program
    .command("buildroot")
    .description("make, list and prune the build roots (pinned Debian trees) builds run in");

  cmd
    .command("build")
    .description("make the build root a spec's builds of one arch run in, or reuse the cached one")
    .argument("<spec>", "layer spec (YAML)")
    .option("-a, --arch <arch>", "CPU family (default: the host's, when the spec lists it)")
    .option("--refresh", "ask the mirror whether its suites changed and make a new build root if they did")
    .option(
      "--verify",
      "check a cached build root's files against its packages (dpkg --verify) before reusing it; exit 3 naming what differs",
    )
    .option("-v, --verbose", "show mmdebstrap's and apt's output on stderr")
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .option("--json", "print the result as JSON (schema in docs/cli.md)")
    .action(
      async (
        specFile: string,
        opts: StateOptions & { arch?: string; refresh?: boolean; verify?: boolean; verbose?: boolean },
      ) => {
        const { openSpec } = await import("../spec/open.js");
        const { buildRootFor, ensureBuildRoot } = await import("../buildroot/index.js");
        const { layer } = await openSpec(specFile, { arch: opts.arch });
        const spec = buildRootFor(layer.spec, layer.arch);
        const started = Date.now();
        // mmdebstrap runs in a process group of its own: stopped through the signal, the tree it
        // was making is removed before compat exits
        const controller = new AbortController();
        const onSignal = (sig: NodeJS.Signals) => {
          log.warn(`${sig}: stopping (what was being made is removed)`);
          controller.abort();
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
        let root: Awaited<ReturnType<typeof ensureBuildRoot>>;
        try {
          root = await ensureBuildRoot(spec, {
            arch: layer.arch,
            stateDir: await stateDirOf(opts),
            note: (m) => log.info(m),
            signal: controller.signal,
            ...(opts.refresh ? { refresh: true } : {}),
            ...(opts.verify ? { verify: true } : {}),
            ...(opts.verbose ? { log: process.stderr } : {}),
          });
        } catch (e) {
          if (!controller.signal.aborted) throw e;
          log.error(`interrupted: ${e instanceof Error ? e.message : String(e)}`);
          process.exitCode = INTERRUPTED_EXIT;
          return;
        } finally {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        }
        const seconds = (Date.now() - started) / 1000;
        if (opts.json) {
          printJson({ ...root, packageCount: root.packages.length, seconds });
          return;
        }
        process.stdout.write(
          `${style.bold(root.made ? "made" : "reused")} build root ${root.identity}\n` +
            `  dir       ${shown(root.dir)}\n` +
            `  ${root.arch} · ${root.suite} · ${root.packages.length} packages · made ${day(root.createdAt)}\n` +
            `  time      ${seconds.toFixed(2)} s\n`,
        );
      },
    );

  cmd
    .command("list")
    .description("list the cached build roots: arch, suite, identity, packages, size, made, last used")
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .option("--json", "print the list as JSON (schema in docs/cli.md)")
    .action(async (opts: StateOptions) => {
      const { listBuildRoots } = await import("../buildroot/manage.js");
      const { formatBytes } = await import("../exec/disk.js");
      const roots = await listBuildRoots(await stateDirOf(opts));
      if (opts.json) {
        printJson(roots);
        return;
      }
      if (roots.length === 0) {
        process.stdout.write(`no build roots in ${shown(await stateDirOf(opts))}/buildroots\n`);
        return;
      }
      process.stdout.write(
        `${renderTable(
          ["ARCH", "SUITE", "IDENTITY", "PACKAGES", "SIZE", "MADE", "LAST USED", "IN USE"],
          roots.map((r) => [
            r.arch,
            r.suite ?? style.red("damaged"),
            printableText(r.identity.slice(0, 12)),
            r.packages === undefined ? "-" : String(r.packages),
            formatBytes(r.sizeBytes),
            day(r.createdAt),
            day(r.lastUsedAt),
            r.users.length ? `pid ${pids(r.users)}` : "",
          ]),
        )}\n`,
      );
      for (const r of roots.filter((x) => x.problem))
        log.warn(
          `${printableText(r.identity.slice(0, 12))}: ${cut(r.problem!)} (compat buildroot prune removes it)`,
        );
    });

  cmd
    .command("prune")
    .description(
      "remove build roots not used lately (never one a running process uses), damaged ones and leftovers",
    )
    .option("--keep <n>", "keep the N last used build roots of each arch")
    .option("--older-than <days>", "remove build roots not used for more than DAYS days")
    .option("--dry-run", "list what would be removed; remove nothing")
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .option("--json", "print the result as JSON (schema in docs/cli.md)")
    .action(async (opts: StateOptions & { keep?: string; olderThan?: string; dryRun?: boolean }) => {
      const { pruneBuildRoots } = await import("../buildroot/manage.js");
      const { formatBytes } = await import("../exec/disk.js");
      const r = await pruneBuildRoots(await stateDirOf(opts), {
        ...(opts.keep !== undefined ? { keep: count("--keep", opts.keep, 0) } : {}),
        ...(opts.olderThan !== undefined ? { olderThanDays: count("--older-than", opts.olderThan, 0) } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
      });
      if (opts.json) {
        printJson({ dryRun: opts.dryRun === true, ...r });
        return;
      }
      const verb = opts.dryRun ? "would remove" : "removed";
      for (const x of r.removed)
        process.stdout.write(
          `${verb} ${x.arch} ${printableText(x.identity.slice(0, 12))} (${cut(x.why)}), ${formatBytes(x.sizeBytes)}\n`,
        );
      for (const x of r.inUse)
        process.stdout.write(
          `kept ${x.arch} ${printableText(x.identity.slice(0, 12))}: in use by pid ${pids(x.users)}\n`,
        );
      for (const x of r.leftovers) process.stdout.write(`${verb} leftover ${printableText(shown(x))}\n`);
      process.stdout.write(
        `${verb} ${r.removed.length} build root(s), ${formatBytes(r.freedBytes)}; kept ${r.kept.length + r.inUse.length}\n`,
      );
    });
}
