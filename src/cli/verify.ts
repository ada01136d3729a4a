/** `compat verify ARTIFACT [--manifest M] [--pubkey K] [--allow-setuid PATH]… [--approved-sha256 H] [--json]` */
import type { Command } from "commander";
import type { VerifyReport } from "../artifacts/verify.js";
import { ValidationError } from "../errors.js";
import { log } from "../log.js";
import { printJson, style } from "./output.js";

interface VerifyCliOptions {
  manifest?: string;
  pubkey?: string;
  allowSetuid: string[];
  approvedSha256?: string;
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
    .option("--json", "print the report as JSON (schema in docs/cli.md)")
    .action(async (artifact: string, opts: VerifyCliOptions) => {
      const { RULES } = await import("../artifacts/rules.js");
      const { verifyArtifact } = await import("../artifacts/verify.js");
      const report = await verifyArtifact(artifact, {
        manifestPath: opts.manifest,
        publicKeyPath: opts.pubkey,
        allowSetuid: opts.allowSetuid,
        approvedSha256: opts.approvedSha256,
      });
      for (const w of report.warnings) log.warn(w);
      if (opts.json) {
        printJson({ ...report, rules: RULES });
        if (!report.ok) process.exitCode = 3;
        return;
      }
      if (!report.ok)
        throw new ValidationError(
          `${artifact}: rejected (${report.violationCount} problem${report.violationCount === 1 ? "" : "s"})`,
          {
            details: violationLines(report),
          },
        );
      process.stdout.write(
        `${style.green("ok")} ${artifact}\n  sha256   ${report.sha256}\n  members  ${report.members} (${report.files} files, ${(report.contentBytes / 1e6).toFixed(1)} MB)\n` +
          (report.manifest ? `  manifest ${report.manifest}\n` : "") +
          (report.signature
            ? `  signed   by sha256:${report.signature.fingerprint}${report.signature.publicKey ? "" : " (the key the signature carries; not a trusted key)"}\n`
            : ""),
      );
    });
}
