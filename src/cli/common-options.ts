/**
 * The options many commands share, each declared here once (flags, and the help most commands give
 * it); a command adds one with `.addOption(jsonOption())`, or with its own help where it means
 * something narrower (`archOption("only this arch")`).
 */
import { Option } from "commander";

/** `--json`: machine-readable output on stdout. */
export function jsonOption(help = "print the result as JSON (schema in docs/cli.md)"): Option {
  return new Option("--json", help);
}

/** `-a, --arch <arch>`: the CPU family of the layer. */
export function archOption(help = "CPU family (default: the host's, when the spec lists it)"): Option {
  return new Option("-a, --arch <arch>", help);
}

/** `--root <dir>`: the local directory standing for /cvmfs/<repository>. */
export function rootOption(
  help = "local directory that stands for /cvmfs/<repository> (default: compat-root/<repository>)",
): Option {
  return new Option("--root <dir>", help);
}

/** `--stack <name>`: the stack name, where nothing else names it. */
export function stackOption(help: string): Option {
  return new Option("--stack <name>", help);
}
