/**
 * The `compat` command. Each command lives in its own file under src/cli/ and exports
 * `register(program)`; this file only wires them together and maps errors to exit codes.
 */
import { Command, CommanderError } from "commander";
import { CompatError, EXIT_CODES, IoError, isSystemError, systemError } from "../errors.js";
import { log, setLogLevel } from "../log.js";
import { printableText } from "../text.js";
import { COMPAT_VERSION } from "../version.js";
import { commands } from "./commands.js";

export function buildProgram(): Command {
  const program = new Command("compat")
    .description(
      "Build, check, audit, package and publish OS compatibility layers for CernVM-FS software stacks.",
    )
    .version(COMPAT_VERSION, "-V, --version")
    .option("-v, --verbose", "log every external command and debug detail")
    .option("-q, --quiet", "only log warnings and errors")
    .showHelpAfterError("(run compat --help for usage)")
    .exitOverride()
    .hook("preAction", (cmd) => {
      const o = cmd.optsWithGlobals() as { verbose?: boolean; quiet?: boolean };
      if (o.verbose) setLogLevel("debug");
      else if (o.quiet) setLogLevel("warn");
    });
  for (const register of commands) register(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/**
 * What a user or a disk causes is never an internal error: a system error (errno: read-only,
 * full, no permission …) and a SQLite error (a damaged or unwritable database) that no command
 * caught on its way up are reported with what, where and why, exit 4.
 */
function asUserError(e: unknown): CompatError | undefined {
  if (e instanceof CompatError) return e;
  if (isSystemError(e)) return systemError(e);
  if (e instanceof Error && e.name === "SqliteError") {
    const code = String((e as Error & { code?: unknown }).code ?? "SQLITE_ERROR");
    return new IoError(`SQLite database: ${e.message} (${code})`, {
      hint: /CORRUPT|NOTADB/.test(code)
        ? "the database file is damaged: restore it from a backup, or move it aside"
        : "check that the database file and its directory are writable and the disk is not full",
      cause: e,
    });
  }
  return undefined;
}

export function reportError(thrown: unknown): number {
  const e = asUserError(thrown) ?? thrown;
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help")
      return 0;
    // commander already printed the message
    return EXIT_CODES.input;
  }
  if (e instanceof CompatError) {
    log.error(e.message);
    for (const d of e.details) process.stderr.write(`  ${printableText(d)}\n`);
    if (e.hint) process.stderr.write(`  hint: ${printableText(e.hint)}\n`);
    return e.exitCode;
  }
  log.error(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return EXIT_CODES.internal;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}
