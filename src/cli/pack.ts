/**
 * `compat pack PREFIX|SPEC [--arch A] [--root DIR] [-o DIR] [--compress zstd|gzip] [--sign KEY]
 *  [--delta-from OLD [--no-patches]] [--epoch N] [--stack S] [--json]`
 */
import type { Command } from "commander";
import { InputError } from "../errors.js";
import { log } from "../log.js";
import { style } from "../text.js";
import { archOption, jsonOption, rootOption, stackOption } from "./common-options.js";
import { printJson } from "./output.js";

interface PackCliOptions {
  arch?: string;
  root?: string;
  output: string;
  compress: string;
  sign?: string;
  deltaFrom?: string;
  patches: boolean;
  epoch?: string;
  stack?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("pack")
    .description(
      "pack a layer into a reproducible artifact (tarball + manifest), or a delta against an older one",
    )
    .argument("<layer>", "layer spec (YAML) or the layer's prefix directory")
    .addOption(archOption("CPU family (with a spec; default: the host's when the spec lists it)"))
    .addOption(
      rootOption("local repository root the spec's layer lives in (default: compat-root/<repository>)"),
    )
    .option("-o, --output <dir>", "directory to write the artifact and its manifest to", "artifacts")
    .option("--compress <tool>", "zstd (.tar.zst) or gzip (.tar.gz, made by pigz)", "zstd")
    .option("--sign <key>", "sign the manifest with this ed25519 private key (compat keygen)")
    .option("--delta-from <artifact>", "make a delta: only what changed since this full artifact")
    .option(
      "--no-patches",
      "in a delta, ship changed files whole instead of as binary patches (for a publishing host without zstd ≥ 1.4.5)",
    )
    .option(
      "--epoch <seconds>",
      "build time (unix); default SOURCE_DATE_EPOCH, the build record, or the newest mtime",
    )
    .addOption(stackOption("stack name when packing a prefix without a build record"))
    .addOption(jsonOption())
    .action(async (target: string, opts: PackCliOptions) => {
      if (opts.compress !== "zstd" && opts.compress !== "gzip")
        throw new InputError(`--compress ${opts.compress}: expected zstd or gzip`);
      if (opts.epoch !== undefined && !/^\d+$/.test(opts.epoch))
        throw new InputError(`--epoch ${opts.epoch}: expected a unix time in seconds`);
      const { resolveLayerSource } = await import("../artifacts/layer-source.js");
      const { packLayer } = await import("../artifacts/pack.js");
      const source = await resolveLayerSource(target, opts);
      log.info(`packing ${source.prefix}`);
      const result = await packLayer({
        ...source,
        outDir: opts.output,
        compression: opts.compress,
        epoch: opts.epoch === undefined ? undefined : Number(opts.epoch),
        signingKey: opts.sign,
        deltaFrom: opts.deltaFrom,
        noPatches: !opts.patches,
        onProgress: (members, bytes) => log.info(`  ${members} members, ${(bytes / 1e6).toFixed(0)} MB`),
      });
      const m = result.manifest;
      if (opts.json) {
        printJson({
          artifact: result.artifact,
          manifest: result.manifestPath,
          signature: result.signaturePath ?? null,
          sbom: result.sbomPath ?? null,
          kind: m.kind,
          sha256: m.sha256,
          size: m.size,
          members: m.members,
          files: m.files,
          contentBytes: m.contentBytes,
          tarBytes: result.tarBytes,
          buildTime: m.buildTime,
          deletions: m.delta?.deletions.length ?? 0,
          patches: m.delta?.patches.length ?? 0,
          durationMs: result.durationMs,
        });
        return;
      }
      const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
      process.stdout.write(
        [
          `${style.bold(result.artifact)}`,
          `  kind      ${m.kind}${m.delta ? ` (base ${m.delta.base.artifact}, ${m.delta.deletions.length} deletions, ${m.delta.patches.length} patches)` : ""}`,
          `  sha256    ${m.sha256}`,
          `  size      ${mb(m.size)} (${mb(result.tarBytes)} uncompressed, ${m.members} members)`,
          `  manifest  ${result.manifestPath}`,
          ...(result.signaturePath ? [`  signature ${result.signaturePath}`] : []),
          ...(result.sbomPath ? [`  sbom      ${result.sbomPath}`] : []),
          `  packed in ${(result.durationMs / 1000).toFixed(1)} s`,
          "",
        ].join("\n"),
      );
    });
}
