/**
 * `compat publish ARTIFACT --to TARGET [--approved-sha256 H] [--manifest M] [--pubkey K]
 *  [--allow-setuid P]… [--reason TEXT] [--state DIR] [--ssh-config F] [--cvmfs-root DIR] [--keep-copy] [--ingest]
 *  [--config FILE] [--json]`
 *
 * TARGET is a place (`local:DIR`, `cvmfs:REPO[@HOST]`) or a target of the site config; a site
 * target (also when named by its place) applies its approval policy and records the publication
 * in the store.
 */
import type { Command } from "commander";
import { InputError } from "../errors.js";
import { log } from "../log.js";
import type { Publisher } from "../publish/publisher.js";
import { style } from "../text.js";
import { INTERRUPTED_EXIT } from "./build.js";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";

export interface TargetCliOptions {
  to: string;
  state?: string;
  sshConfig?: string;
  cvmfsRoot?: string;
  keepCopy?: boolean;
  ingest?: boolean;
}

interface PublishCliOptions extends TargetCliOptions {
  config?: string;
  approvedSha256?: string;
  manifest?: string;
  pubkey?: string;
  allowSetuid: string[];
  reason?: string;
  json?: boolean;
}

const collect = (v: string, acc: string[]) => [...acc, v];

/** A reason is shown in `compat history` tables and cvmfs tags: one line of printable text. */
export function checkReason(reason: string | undefined): void {
  if (reason === undefined) return;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  const bad = /[\u0000-\u001f\u007f-\u009f]/.exec(reason);
  if (bad || reason.trim() === "" || reason.length > 500)
    throw new InputError(
      `--reason: ${bad ? `a control character (U+${bad[0].charCodeAt(0).toString(16).padStart(4, "0")}) is not allowed` : reason.trim() === "" ? "empty" : `${reason.length} characters, at most 500`}`,
      { hint: 'give one line of text, e.g. --reason "openssl security update"' },
    );
}

/** The options every command that talks to a publish target shares. */
export function addTargetOptions(cmd: Command, toDescription: string): Command {
  return cmd
    .requiredOption("--to <target>", toDescription)
    .option("--state <dir>", "cvmfs: where the lock and history live (default /var/lib/compat as root)")
    .option("--ssh-config <file>", "cvmfs over ssh: ssh client configuration file (ssh -F)")
    .option("--cvmfs-root <dir>", "cvmfs: where repositories are mounted on the publishing host", "/cvmfs");
}

/**
 * The site config and its target when `--to` names one (by name, or by its place): with --config,
 * or a ./compat.yaml in the working directory. Undefined for a place the site config does not list.
 */
export async function siteTargetOf(opts: TargetCliOptions & { config?: string }) {
  const { existsSync } = await import("node:fs");
  if (opts.config === undefined && !existsSync("compat.yaml") && opts.to.includes(":")) return undefined;
  const { loadSiteConfig } = await import("../site/load.js");
  const { findSiteTarget } = await import("../update/promote.js");
  const site = await loadSiteConfig(opts.config);
  const target = findSiteTarget(site, opts.to);
  return target ? { site, target } : undefined;
}

/** The publisher of `--to` (its module is loaded here, so other commands do not pay for it). */
export async function publisherFromOptions(opts: TargetCliOptions, to = opts.to): Promise<Publisher> {
  const { publisherFor } = await import("../publish/target.js");
  return publisherFor(to, {
    stateDir: opts.state,
    sshConfig: opts.sshConfig,
    cvmfsRoot: opts.cvmfsRoot,
    keepCopy: opts.keepCopy,
    ingest: opts.ingest,
  });
}

export function register(program: Command): void {
  const cmd = program
    .command("publish")
    .description(
      "verify an artifact again and publish it: local:DIR (atomic swap) or cvmfs:REPO[@HOST] (one transaction)",
    )
    .argument("<artifact>", "artifact file made by compat pack");
  addTargetOptions(
    cmd,
    "local:DIR (a repository root), cvmfs:REPO[@HOST], or a target of the site config (its approval policy applies)",
  )
    .option("--approved-sha256 <hash>", "refuse unless the artifact's sha256 is this approved one")
    .option("--manifest <file>", "the artifact's manifest (default: <artifact>.manifest.json)")
    .option("--pubkey <file>", "require the manifest's signature to verify with this ed25519 public key")
    .option(
      "--allow-setuid <path>",
      "a member (relative to the layer) that may be setuid/setgid; repeatable",
      collect,
      [],
    )
    .option(
      "--reason <text>",
      "why: recorded in the history (and, shell-safe, in the cvmfs revision's description)",
    )
    .option(
      "--keep-copy",
      "cvmfs: keep the layer a change replaces as .<arch>-NNN (a template transaction: its catalog entries, one more revision)",
    )
    .option("--ingest", "cvmfs: publish a layer that does not exist yet with cvmfs_server ingest")
    .option(
      "--config <file>",
      "site config whose targets --to may name (default ./compat.yaml when there is one)",
    )
    .addOption(jsonOption())
    .action(async (artifact: string, opts: PublishCliOptions) => {
      if (opts.approvedSha256 !== undefined && !/^[0-9a-f]{64}$/.test(opts.approvedSha256))
        throw new InputError(
          `--approved-sha256 ${opts.approvedSha256}: not a sha256 (64 lower-case hex digits)`,
        );
      checkReason(opts.reason);
      const siteTarget = await siteTargetOf(opts);
      const publisher = await publisherFromOptions(opts, siteTarget?.target.to);
      const { PublishInterrupted } = await import("../publish/publisher.js");
      // SIGINT/SIGTERM stop a publish that has not replaced the layer yet; from the swap on, it completes.
      const controller = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        log.warn(`${sig}: stopping the publish`);
        controller.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      log.info(`verifying ${artifact}`);
      let r: Awaited<ReturnType<typeof publisher.publish>>;
      let site: Record<string, unknown> | undefined;
      try {
        if (siteTarget) {
          const { publishToSiteTarget } = await import("../update/promote.js");
          const { withStore } = await import("../store/open.js");
          const outcome = await withStore(siteTarget.site.store, async (store) => {
            if (opts.approvedSha256 !== undefined) {
              const { readArtifactFiles } = await import("../update/artifact-files.js");
              const { sha256 } = await readArtifactFiles(artifact);
              if (sha256 !== opts.approvedSha256)
                throw new (await import("../errors.js")).ValidationError(
                  `${artifact}: its sha256 is ${sha256}, not the approved ${opts.approvedSha256}; nothing was published`,
                );
            }
            return publishToSiteTarget(siteTarget.site, store, artifact, siteTarget.target.name, {
              publisher,
              manifestPath: opts.manifest,
              publicKeyPath: opts.pubkey,
              allowSetuid: opts.allowSetuid,
              reason: opts.reason,
              signal: controller.signal,
            });
          });
          r = outcome.result;
          site = {
            target: outcome.target,
            candidate: outcome.candidate?.id ?? null,
            publication: outcome.publication?.id ?? null,
            approvals: outcome.verdict?.counted.map((c) => c.approver) ?? [],
          };
        } else
          r = await publisher.publish({
            artifact,
            manifestPath: opts.manifest,
            publicKeyPath: opts.pubkey,
            allowSetuid: opts.allowSetuid,
            approvedSha256: opts.approvedSha256,
            reason: opts.reason,
            signal: controller.signal,
          });
      } catch (e) {
        if (!(e instanceof PublishInterrupted)) throw e;
        log.error(`publish of ${artifact} ${e.message}`);
        process.exitCode = INTERRUPTED_EXIT;
        return;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      if (controller.signal.aborted)
        log.warn("the interrupt came after the layer was replaced: the publish completed");
      if (opts.json) {
        printJson(site ? { ...r, site } : r);
        return;
      }
      if (r.method === "unchanged") {
        process.stdout.write(
          `${style.green("already published")} ${r.artifact}: ${r.path} is this artifact (sha256 ${r.sha256}); nothing changed\n`,
        );
        return;
      }
      process.stdout.write(
        `${style.green("published")} ${r.artifact} (${r.kind})\n  layer    ${r.path}\n  target   ${r.target}\n  sha256   ${r.sha256}\n` +
          (r.backup ? `  previous kept as ${r.backup}\n` : "") +
          (r.changes
            ? `  changes  ${r.changes.written} entries written, ${r.changes.deleted} deleted\n`
            : "") +
          (r.tag ? `  tag      ${r.tag}\n` : "") +
          `  method   ${r.method}\n`,
      );
    });
}
