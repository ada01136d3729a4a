/** `compat keygen [-o BASE]`: an ed25519 key pair for signing artifact manifests. */
import type { Command } from "commander";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";

export function register(program: Command): void {
  program
    .command("keygen")
    .description("make an ed25519 key pair for signing artifact manifests (pack --sign, verify --pubkey)")
    .option("-o, --output <base>", "write <base>.key (private, mode 0600) and <base>.pub", "compat-signing")
    .addOption(jsonOption("print the paths and fingerprint as JSON"))
    .action(async (opts: { output: string; json?: boolean }) => {
      const { generateKeyPair } = await import("../artifacts/sign.js");
      const r = await generateKeyPair(opts.output);
      if (opts.json) printJson(r);
      else
        process.stdout.write(
          `private key  ${r.privateKey}\npublic key   ${r.publicKey}\nfingerprint  sha256:${r.fingerprint}\n`,
        );
    });
}
