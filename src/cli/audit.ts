/**
 * `compat audit TARGET [--source ID]… [--glsa DIR] [--debian-index DIR] [--debian-tracker FILE]
 *  [--gentoo-git DIR] [--gentoo-commit HASH] [--arch A] [--json] [--fail-on S]`: which advisories
 * hit which installed packages of a layer (gentoo or debian). Exit 0: nothing at or above
 * --fail-on; 1: something is; 2: bad input or no advisory data. JSON schema in docs/cli.md.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { InputError } from "../errors.js";
import { ARCH_KEYWORDS, GENTOO_KEYWORDS, isKnownArch } from "../gentoo/keyword.js";
import { log } from "../log.js";
import { SEVERITIES, type Severity } from "../security/advisory.js";
import { archOption, jsonOption } from "./common-options.js";
import { printJson } from "./output.js";

interface AuditFlags {
  source?: string[];
  glsa?: string;
  debianIndex?: string;
  debianTracker?: string;
  gentooGit?: string;
  gentooCommit?: string;
  gentooSecurityBugs?: string;
  maxAge?: number;
  arch?: string;
  json?: boolean;
  failOn: Severity;
  cacheDir?: string;
  cache: boolean;
}

/** A prefix path ends in its arch (…/compat/linux/x86_64), also for a list kept in it; otherwise the host's. */
async function defaultArch(target: string): Promise<string> {
  const last = basename(target);
  const { isArch, nodeArchToArch } = await import("../layer/id.js");
  if (isArch(last)) return last;
  return nodeArchToArch(process.arch) ?? process.arch;
}

function days(value: string): number {
  if (!/^[0-9]{1,5}(\.[0-9]+)?$/.test(value)) throw new InvalidArgumentError("expected a number of days");
  return Number(value);
}

const collect = (value: string, previous: string[] = []) => [
  ...previous,
  ...value.split(",").filter(Boolean),
];

/** Gentoo bug numbers, one per line (or any text: every number of 5 to 7 digits counts). */
export function readBugList(file: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(
      `cannot read the security bug list ${file} (${(e as NodeJS.ErrnoException).code ?? e})`,
    );
  }
  return new Set(text.match(/\b\d{5,7}\b/g) ?? []);
}

export function register(program: Command): void {
  program
    .command("audit")
    .description(
      "check a layer's installed packages against security advisories: GLSAs and gentoo.git (gentoo), Debian's security suite (debian)",
    )
    .argument(
      "<target>",
      "a prefix (its var/db/pkg or var/lib/dpkg/status is read), an artifact, or a package list as `qlist -IRv` prints it",
    )
    .option(
      "--source <id>",
      "advisory source(s) to use: glsa, gentoo-git, debian-security (repeat or comma-separate; default: every source of the layer's flavor)",
      collect,
    )
    .option("--glsa <dir>", "GLSA directory (default: the prefix's var/db/repos/gentoo/metadata/glsa)")
    .option(
      "--debian-index <dir>",
      "the security suite's index files (an apt lists directory, or a copy of dists/<suite>/): nothing is fetched",
    )
    .option("--debian-tracker <file>", "Debian's security-tracker JSON, for CVEs that have no fix yet")
    .option(
      "--gentoo-git <dir>",
      "a gentoo.git checkout: commits after the layer's citing a CVE or a security bug",
    )
    .option(
      "--gentoo-commit <hash>",
      "the layer's gentoo.git commit (default: its build record or repository checkout)",
    )
    .option("--gentoo-security-bugs <file>", "Gentoo bug numbers that are security bugs (one per line)")
    .option("--max-age <days>", "data older than this is reported as stale (default 7)", days)
    .addOption(
      archOption("CPU family or Gentoo keyword (default: the prefix's last path component, else the host's)"),
    )
    .addOption(jsonOption("print findings and summary as JSON (schema in docs/cli.md)"))
    .addOption(
      new Option("--fail-on <severity>", "exit 1 when a finding has at least this severity")
        .choices([...SEVERITIES])
        .default("low"),
    )
    .option(
      "--cache-dir <dir>",
      "where parsed advisories, fetched indexes and changelogs are kept (default: $COMPAT_CACHE_DIR, $XDG_CACHE_HOME/compat or ~/.cache/compat)",
    )
    .option(
      "--no-cache",
      "parse every advisory, read and write no cache (debian-security then needs --debian-index)",
    )
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
        arch: flags.arch ?? (await defaultArch(target.prefix ?? target.path)),
        ...(flags.source ? { sources: flags.source } : {}),
        settings: {
          cacheDir: flags.cache ? (flags.cacheDir ?? defaultCacheDir()) : undefined,
          ...(flags.maxAge !== undefined ? { maxAgeDays: flags.maxAge } : {}),
          glsa: { ...(flags.glsa !== undefined ? { dir: flags.glsa } : {}) },
          debianSecurity: {
            ...(flags.debianIndex !== undefined ? { index: flags.debianIndex } : {}),
            ...(flags.debianTracker !== undefined ? { tracker: flags.debianTracker } : {}),
          },
          gentooGit: {
            ...(flags.gentooGit !== undefined ? { repository: flags.gentooGit } : {}),
            ...(flags.gentooCommit !== undefined ? { commit: flags.gentooCommit } : {}),
            ...(flags.gentooSecurityBugs !== undefined
              ? { securityBugs: readBugList(flags.gentooSecurityBugs) }
              : {}),
          },
        },
        failOn: flags.failOn,
      });
      for (const w of report.summary.warnings) log.warn(w);
      if (flags.json) printJson(report);
      else process.stdout.write(renderAuditText(report));
      if (report.summary.failed) process.exitCode = 1;
    });
}
