/**
 * `compat verify ARTIFACT [--manifest M] [--pubkey K] [--allow-setuid PATH]… [--approved-sha256 H]
 *  [--against DIR] [--json]`
 */
import type { Command } from "commander";
import type { EntryIndex } from "../artifacts/entry-index.js";
import type { VerifyReport } from "../artifacts/verify.js";
import { ValidationError } from "../errors.js";
import { log } from "../log.js";
import { style } from "../text.js";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";

interface VerifyCliOptions {
  manifest?: string;
  pubkey?: string;
  allowSetuid: string[];
  approvedSha256?: string;
  against?: string;
  json?: boolean;
}

const collect = (v: string, acc: string[]) => [...acc, v];

export function violationLines(report: VerifyReport): string[] {
  const lines = report.violations.map((v) => `[${v.rule}] ${v.member ? `${v.member}: ` : ""}${v.message}`);
  if (report.violationCount > report.violations.length)
    lines.push(`… and ${report.violationCount - report.violations.length} more`);
  return lines;
}

export function register(program: Command): void {
  program
    .command("verify")
    .description("check every member of an artifact, its checksum and its signature; exit 3 on rejection")
    .argument("<artifact>", "artifact file (.tar.zst or .tar.gz)")
    .option("--manifest <file>", "manifest to check against (default: <artifact>.manifest.json)")
    .option("--pubkey <file>", "require the manifest's signature to verify with this ed25519 public key")
    .option(
      "--allow-setuid <path>",
      "a member (relative to the layer) that may be setuid/setgid; repeatable",
      collect,
      [],
    )
    .option("--approved-sha256 <hash>", "require the artifact's sha256 to be this one")
    .option(
      "--against <dir>",
      "also compare the artifact's tree with this directory, e.g. the layer published under /cvmfs (nested-catalog markers left out)",
    )
    .addOption(jsonOption("print the report as JSON (schema in docs/cli.md)"))
    .action(async (artifact: string, opts: VerifyCliOptions) => {
      const { RULES } = await import("../artifacts/rules.js");
      const { verifyArtifact } = await import("../artifacts/verify.js");
      const entries = await import("../artifacts/entry-index.js");
      const index: EntryIndex = new Map();
      const report = await verifyArtifact(artifact, {
        manifestPath: opts.manifest,
        publicKeyPath: opts.pubkey,
        allowSetuid: opts.allowSetuid,
        approvedSha256: opts.approvedSha256,
        onMember: opts.against ? entries.indexingMember(index) : undefined,
      });
      for (const w of report.warnings) log.warn(w);
      const against = opts.against
        ? {
            path: opts.against,
            differences: report.ok ? entries.indexDifferences(index, entries.indexTree(opts.against)) : [],
          }
        : undefined;
      if (opts.json) {
        printJson({ ...report, ...(against ? { against } : {}), rules: RULES });
        if (!report.ok || (against && against.differences.length > 0)) process.exitCode = 3;
        return;
      }
      if (!report.ok)
        throw new ValidationError(
          `${artifact}: rejected (${report.violationCount} problem${report.violationCount === 1 ? "" : "s"})`,
          {
            details: violationLines(report),
          },
        );
      if (against && against.differences.length > 0)
        throw new ValidationError(
          `${against.path} is not the tree of ${artifact}: ${against.differences.length} difference${against.differences.length === 1 ? "" : "s"}`,
          {
            details: against.differences
              .slice(0, 30)
              .map(
                (d) =>
                  `${d.path || "(the layer itself)"}: ${d.what}${d.expected !== undefined ? ` (artifact: ${d.expected}${d.actual !== undefined ? `, directory: ${d.actual}` : ""})` : d.actual !== undefined ? ` (${d.actual})` : ""}`,
              ),
          },
        );
      const markers = report.catalogMarkers;
      process.stdout.write(
        `${style.green("ok")} ${artifact}\n  sha256   ${report.sha256}\n  members  ${report.members} (${report.files} files, ${(report.contentBytes / 1e6).toFixed(1)} MB)\n` +
          `  catalogs ${markers.length === 0 ? "no .cvmfscatalog (publishing to cvmfs makes the layer's top one)" : markers.map((m) => m || "(the layer's top)").join(", ")}\n` +
          (report.manifest ? `  manifest ${report.manifest}\n` : "") +
          (report.signature
            ? `  signed   by sha256:${report.signature.fingerprint}${report.signature.publicKey ? "" : " (the key the signature carries; not a trusted key)"}\n`
            : "") +
          (against
            ? `  matches  ${against.path} (paths, types, modes, link targets, sha256; .cvmfscatalog markers left out)\n`
            : ""),
      );
    });
}
