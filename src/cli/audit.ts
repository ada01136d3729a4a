/**
 * `compat audit TARGET [--glsa DIR] [--arch A] [--json] [--fail-on low|normal|high]`:
 * which advisories hit which installed packages of a layer. Exit 0: nothing at or above
 * --fail-on; 1: something is; 2: bad input. JSON schema in docs/cli.md.
 */
import { basename } from "node:path";
import { type Command, Option } from "commander";
import { InputError } from "../errors.js";
import { ARCH_KEYWORDS, GENTOO_KEYWORDS, isKnownArch } from "../gentoo/keyword.js";
import { log } from "../log.js";
import { printJson } from "./output.js";

interface AuditFlags {
  glsa?: string;
  arch?: string;
  json?: boolean;
  failOn: "low" | "normal" | "high";
  cacheDir?: string;
  cache: boolean;
}

/** A prefix path ends in its arch (…/compat/linux/x86_64), also for a list kept in it; otherwise the host's. */
async function defaultArch(target: string): Promise<string> {
  const last = basename(target);
  if (last in ARCH_KEYWORDS) return last;
  const { nodeArchToArch } = await import("../spec/resolve.js");
  return nodeArchToArch(process.arch) ?? process.arch;
}

export function register(program: Command): void {
  program
    .command("audit")
    .description("check a layer's installed packages against security advisories (GLSAs), as glsa-check does")
    .argument("<target>", "a prefix (its var/db/pkg is read) or a package list as `qlist -IRv` prints it")
    .option("--glsa <dir>", "GLSA directory (default: the prefix's var/db/repos/gentoo/metadata/glsa)")
    .option(
      "-a, --arch <arch>",
      "CPU family or Gentoo keyword (default: the prefix's last path component, else the host's)",
    )
    .option("--json", "print findings and summary as JSON (schema in docs/cli.md)")
    .addOption(
      new Option("--fail-on <severity>", "exit 1 when a finding has at least this severity")
        .choices(["low", "normal", "high"])
        .default("low"),
    )
    .option(
      "--cache-dir <dir>",
      "where the parsed advisories are cached (default: $COMPAT_CACHE_DIR, $XDG_CACHE_HOME/compat or ~/.cache/compat)",
    )
    .option("--no-cache", "parse every advisory, read and write no cache")
    .action(async (targetArg: string, flags: AuditFlags) => {
      if (flags.arch !== undefined && !isKnownArch(flags.arch))
        throw new InputError(`--arch ${flags.arch}: not a CPU family or Gentoo keyword`, {
          hint: `one of ${Object.keys(ARCH_KEYWORDS).join(", ")}, or a keyword: ${GENTOO_KEYWORDS.join(", ")}`,
        });
      // the core is loaded here, so other commands do not pay for it
      const { resolveTarget, runAudit } = await import("../security/audit.js");
      const { defaultCacheDir } = await import("../security/glsa/corpus.js");
      const { renderAuditText } = await import("../security/report.js");
      const target = resolveTarget(targetArg);
      const report = await runAudit({
        target,
        glsaDir: flags.glsa,
        arch: flags.arch ?? (await defaultArch(target.prefix ?? target.path)),
        cacheDir: flags.cache ? (flags.cacheDir ?? defaultCacheDir()) : undefined,
        failOn: flags.failOn,
      });
      for (const w of report.summary.warnings) log.warn(w);
      if (flags.json) printJson(report);
      else process.stdout.write(renderAuditText(report));
      if (report.summary.failed) process.exitCode = 1;
    });
}
