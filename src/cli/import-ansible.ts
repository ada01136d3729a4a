/**
 * `compat import-ansible DEFAULTS.yml VARS.yml [-o spec.yaml]`: EESSI's compatibility_layer role
 * variables → a layer spec (gentoo flavor).
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { InputError } from "../errors.js";
import type { Arch } from "../layer/id.js";
import { log } from "../log.js";
import type { TextFile } from "../spec/ansible/import.js";
import { stackOption } from "./common-options.js";
import { writeResult } from "./output-file.js";

/**
 * spec/ansible/import.ts's DEFAULT_ARCHES, spelled here so that defining the option does not load
 * the importer (src/cli/startup.test.ts keeps the two equal).
 */
export const DEFAULT_IMPORT_ARCHES = "x86_64,aarch64,riscv64";

interface ImportOptions {
  output?: string;
  filesystemLayer?: string;
  arches?: string;
  stack?: string;
}

export function register(program: Command): void {
  program
    .command("import-ansible")
    .description("turn EESSI's compatibility-layer role defaults and one vars file into a layer spec")
    .argument("<defaults>", "the role's defaults/main.yml")
    .argument("<vars>", "the role's vars/<version>.yml (wins over the defaults)")
    .option("-o, --output <file>", "write the spec to this file instead of stdout")
    .option(
      "--filesystem-layer <file>",
      "EESSI filesystem-layer content structure file: plain targets of the defaults tree (else /dev/null)",
    )
    .option("--arches <list>", `comma-separated CPU families (default ${DEFAULT_IMPORT_ARCHES})`)
    .addOption(stackOption("stack name").default("eessi"))
    .action(async (defaults: string, vars: string, opts: ImportOptions) => {
      const { importAnsible } = await import("../spec/ansible/import.js");
      const { parseSpec } = await import("../spec/load.js");
      const { ARCHES, archHint } = await import("../layer/id.js");
      const result = importAnsible({
        defaults: await readText(defaults),
        vars: await readText(vars),
        ...(opts.filesystemLayer ? { filesystemLayer: await readText(opts.filesystemLayer) } : {}),
        ...(opts.arches ? { arches: parseArches(opts.arches, ARCHES, archHint) } : {}),
        ...(opts.stack ? { stack: opts.stack } : {}),
      });
      // The text must load back to the same spec: what is written is what `plan` and `build` read.
      parseSpec(result.yaml, opts.output ?? "<imported spec>");
      for (const w of result.warnings) log.warn(w);
      await writeResult(result.yaml, opts.output);
      if (opts.output) log.info(`wrote ${opts.output}`);
    });
}

async function readText(file: string): Promise<TextFile> {
  try {
    return { text: await readFile(file, "utf8"), file };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : String(e)}`);
  }
}

function parseArches(
  list: string,
  known: readonly Arch[],
  archHint: (name: string) => Arch | undefined,
): Arch[] {
  const arches = list.split(",").map((a) => a.trim());
  const bad = arches.filter((a) => !(known as readonly string[]).includes(a));
  if (bad.length > 0) {
    const hints = bad.flatMap((a) => {
      const meant = archHint(a);
      return meant ? [`${a} → ${meant}`] : [];
    });
    throw new InputError(`--arches: ${bad.join(", ")} not an architecture (expected ${known.join(", ")})`, {
      hint: hints.length > 0 ? `did you mean ${hints.join(", ")}?` : undefined,
    });
  }
  return arches as Arch[];
}
