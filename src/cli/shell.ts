/**
 * `compat shell SPEC [--arch A] [--root DIR] [-- CMD…]`: enter a built layer, or run one command
 * in it, through the sandbox (the local root at /cvmfs/<repository>) and the layer's startprefix.
 * The words after `--` are joined with spaces and given to startprefix on its standard input, as
 * `startprefix <<< "CMD"` does; the exit status is the command's.
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { InputError } from "../errors.js";
import { archOption, rootOption } from "./common-options.js";

interface ShellOptions {
  arch?: string;
  root?: string;
  writable?: boolean;
}

const EVERY_STATUS = Array.from({ length: 256 }, (_, i) => i);

/** The caller's environment without what would make the layer load host libraries. */
function shellEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^LD_|^DYLD_/.test(k)) delete env[k];
  return env;
}

export function register(program: Command): void {
  program
    .command("shell")
    .description("enter a built layer, or run a command in it (-- CMD), through the sandbox and startprefix")
    .argument("<spec>", "layer spec (YAML)")
    .argument("[command...]", "after --: a command line for the layer's shell (its exit status is returned)")
    .addOption(archOption())
    .addOption(rootOption())
    .option("--writable", "mount the layer read-write (default read-only, as on CernVM-FS)")
    .action(async (specFile: string, words: string[], opts: ShellOptions) => {
      const { runInLayer } = await import("../exec/sandbox.js");
      const { openSpecLayer } = await import("../spec/open.js");
      const { layer, root, localPrefix } = await openSpecLayer(specFile, opts);
      const startprefix = `${localPrefix}/startprefix`;
      if (!existsSync(startprefix))
        throw new InputError(`no layer at ${localPrefix} (it has no startprefix)`, {
          hint: `build it first: compat build ${specFile} --arch ${layer.arch}${opts.root ? ` --root ${opts.root}` : ""}`,
        });
      // a layer of another CPU family runs under qemu-user: say what is missing before exec fails
      const { assertArchRunnable } = await import("../exec/emulation.js");
      assertArchRunnable(layer.arch);
      const mount = { root, repository: layer.repository };
      const sandbox = {
        readOnlyLayer: !opts.writable,
        writable: [...new Set([process.cwd(), process.env.HOME ?? "/root"])].filter(
          (p) => p !== "/" && !p.startsWith("/cvmfs"),
        ),
        env: shellEnvironment(),
        okStatuses: EVERY_STATUS,
      };
      const argv = [`${layer.prefix}/startprefix`];
      if (words.length === 0) {
        // Interactive: the terminal belongs to the layer's shell; Ctrl-C is for it, not for us.
        const ignore = () => {};
        process.on("SIGINT", ignore);
        try {
          const r = await runInLayer(mount, argv, { ...sandbox, stdio: "inherit" });
          process.exitCode = r.status;
        } finally {
          process.off("SIGINT", ignore);
        }
        return;
      }
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      try {
        const r = await runInLayer(mount, argv, {
          ...sandbox,
          input: `${words.join(" ")}\n`,
          captureStdout: false,
          onStdout: (c) => process.stdout.write(c),
          onStderr: (c) => process.stderr.write(c),
          signal: controller.signal,
        });
        process.exitCode = r.status;
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
