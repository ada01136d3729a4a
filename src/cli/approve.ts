/**
 * `compat approve CANDIDATE [--key KEY] [--reason TEXT] [--json] [--config FILE]`: a signed approval
 * of a candidate whose gates all passed, bound to its full artifact's sha256, its manifest's sha256
 * and the gates' digest.
 */
import type { Command } from "commander";
import type { Verdict } from "../store/approvals.js";
import { style } from "../text.js";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";
import { addConfigOption, candidateIdArg, type SiteCliOptions, withSiteStore } from "./site-store.js";

export interface VerdictCliOptions extends SiteCliOptions {
  key?: string;
  json?: boolean;
}

/** The approver's private key: --key, else $COMPAT_APPROVER_KEY. */
export const KEY_OPTION_TEXT =
  "the approver's ed25519 private key (compat keygen; its public key is under approvers: in compat.yaml); default $COMPAT_APPROVER_KEY";

export async function runVerdict(
  id: number,
  verdict: Verdict,
  reason: string | undefined,
  opts: VerdictCliOptions,
) {
  const { InputError } = await import("../errors.js");
  const keyPath = opts.key ?? process.env.COMPAT_APPROVER_KEY;
  if (!keyPath)
    throw new InputError(`compat ${verdict} needs the approver's private key`, {
      hint: "give --key KEY (or set COMPAT_APPROVER_KEY); make a key pair with compat keygen -o NAME and list NAME.pub under approvers: in compat.yaml",
    });
  const { recordVerdict } = await import("../update/approve.js");
  await withSiteStore(opts, async (site, store) => {
    const r = await recordVerdict(site, store, { candidateId: id, verdict, keyPath, reason });
    if (opts.json) {
      printJson(r);
      return;
    }
    const render = await import("./candidate-render.js");
    const what = verdict === "approve" ? "approved" : "rejected";
    process.stdout.write(
      [
        r.already
          ? `${r.approval.approver} had already ${what} candidate ${id} (approval ${r.approval.id}): nothing new recorded`
          : `${style.green(what)} candidate ${id} as ${r.approval.approver} (approval ${r.approval.id}, signed with key sha256:${r.approval.keyId?.slice(0, 16)}…)`,
        `  artifact  sha256 ${r.approval.artifactSha256}`,
        `  manifest  sha256 ${r.approval.manifestSha256}`,
        `  gates     digest ${r.approval.gatesDigest}`,
        render.renderCandidateHead(r.candidate),
        ...render.renderApprovals([], r.targets),
        "",
      ].join("\n"),
    );
  });
}

export function register(program: Command): void {
  const cmd = program
    .command("approve")
    .description(
      "approve a candidate whose gates all passed: a signed record bound to its artifact's sha256, its manifest and the gates' digest",
    )
    .argument("<candidate>", "candidate id (compat status lists them)", candidateIdArg)
    .option("--key <file>", KEY_OPTION_TEXT)
    .option("--reason <text>", "a note kept with the approval (one line)")
    .addOption(jsonOption("print the approval and what it now allows, as JSON"));
  addConfigOption(cmd).action(async (id: number, opts: VerdictCliOptions & { reason?: string }) => {
    const { checkReasonText } = await import("../update/approve.js");
    const reason = opts.reason === undefined ? undefined : checkReasonText(opts.reason, "--reason");
    await runVerdict(id, "approve", reason, opts);
  });
}
