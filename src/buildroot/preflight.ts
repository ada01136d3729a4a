/**
 * What the build host needs to make a build root and build in one: compat and Node (running this),
 * bubblewrap (the sandbox), mmdebstrap (and gpgv, with which the mirror's Release files are
 * verified), and for a foreign arch qemu-user registered with binfmt_misc plus arch-test (which
 * mmdebstrap asks whether the arch runs here). Nothing else of the host's userland is used.
 *
 *   const how = await buildHostPreflight("riscv64");   // "emulated (binfmt_misc qemu-riscv64: …)"
 *
 * Each missing piece is the ToolError (exit 4) of exec/run.ts or exec/emulation.ts naming the
 * Debian package to install.
 */
import { assertArchRunnable, describeEmulation } from "../exec/emulation.js";
import { requireTool } from "../exec/run.js";
import { ensureSandbox } from "../exec/sandbox.js";
import type { Arch } from "../layer/id.js";

/** Host programs making a build root runs (bubblewrap is checked by ensureSandbox, by running it). */
export const BUILD_HOST_TOOLS = ["mmdebstrap", "gpgv"] as const;

/** Check the build host for `arch`; resolves to how that arch's programs run here (for a log). */
export async function buildHostPreflight(arch: Arch): Promise<string> {
  const emulation = assertArchRunnable(arch);
  for (const t of BUILD_HOST_TOOLS) await requireTool(t);
  if (!emulation.native) await requireTool("arch-test");
  await ensureSandbox();
  return describeEmulation(emulation);
}
