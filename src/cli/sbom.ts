/**
 * `compat sbom LAYER|ARTIFACT [--format cyclonedx|spdx] [-o FILE] [--arch A] [--root DIR] [--stack S]`:
 * a CycloneDX 1.6 or SPDX 2.3 JSON document of a layer's installed packages, with package URLs
 * Grype, Trivy and Dependency-Track match on.
 */
import { statSync } from "node:fs";
import { type Command, Option } from "commander";
import { InputError } from "../errors.js";
import { archOption, rootOption, stackOption } from "./common-options.js";

interface SbomFlags {
  format: "cyclonedx" | "spdx";
  output?: string;
  arch?: string;
  root?: string;
  stack?: string;
}

export function register(program: Command): void {
  program
    .command("sbom")
    .description("write a layer's SBOM (CycloneDX 1.6 or SPDX 2.3 JSON) with package URLs scanners match on")
    .argument(
      "<layer>",
      "a layer's prefix directory, its spec (YAML), or an artifact (.tar.zst/.tar.gz beside its manifest)",
    )
    .addOption(
      new Option("--format <format>", "cyclonedx or spdx")
        .choices(["cyclonedx", "spdx"])
        .default("cyclonedx"),
    )
    .option("-o, --output <file>", "write to FILE (atomically) instead of stdout")
    .addOption(archOption("with a spec: the CPU family"))
    .addOption(rootOption("with a spec: the local repository root the layer lives in"))
    .addOption(stackOption("with a prefix: the stack name, when the layer has no build record"))
    .action(async (target: string, flags: SbomFlags) => {
      const { artifactSubject, prefixSubject, renderSbom } = await import("../sbom/index.js");
      const { writeResult } = await import("./output-file.js");
      let kind: "dir" | "file";
      try {
        kind = statSync(target).isDirectory() ? "dir" : "file";
      } catch {
        throw new InputError(`${target}: no such file or directory`, {
          hint: "give a layer's prefix, its spec, or an artifact",
        });
      }
      let subject: Awaited<ReturnType<typeof prefixSubject>>;
      if (kind === "dir")
        subject = await prefixSubject(target, { ...(flags.stack ? { stack: flags.stack } : {}) });
      else if (/\.tar\.(zst|gz)$/.test(target)) subject = await artifactSubject(target);
      else {
        const { resolveLayerSource } = await import("../artifacts/layer-source.js");
        const source = await resolveLayerSource(target, flags);
        subject = await prefixSubject(source.prefix, { stack: source.stack, arch: source.arch });
      }
      await writeResult(renderSbom(subject, flags.format), flags.output);
    });
}
