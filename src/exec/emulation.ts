/**
 * Whether this machine runs an arch's programs: natively, or through qemu-user registered with the
 * kernel's binfmt_misc (Debian's qemu-user-static + binfmt-support). The preflight of a build for a
 * foreign arch, and the test of checks and `compat shell` before they run a layer's programs.
 *
 *   const how = emulationFor("riscv64");        // { native: false, handler: {name: "qemu-riscv64", …} }
 *   assertArchRunnable("riscv64");               // ToolError naming what is missing and the fix
 *
 * A handler counts for an arch when its magic and mask match that arch's ELF header (so a handler
 * registered under any name is found), it is enabled, it has the F (fix-binary) flag (the kernel
 * opens the interpreter when the handler is registered, so a bubblewrap sandbox or a relocated
 * tree needs no qemu inside) and its interpreter exists. binfmt_misc is kernel-global: compat only
 * reads it, never registers or removes a handler.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ToolError } from "../errors.js";
import { type Arch, nodeArchToArch } from "../layer/id.js";

export const BINFMT_MISC = "/proc/sys/fs/binfmt_misc";

/** e_machine of each arch (ELF gABI). */
export const ELF_MACHINE: Record<Arch, number> = { x86_64: 62, aarch64: 183, riscv64: 243, ppc64le: 21 };

/** qemu's name for each arch: the handler `qemu-<name>` that qemu-user-static registers. */
const QEMU_NAME: Record<Arch, string> = {
  x86_64: "x86_64",
  aarch64: "aarch64",
  riscv64: "riscv64",
  ppc64le: "ppc64le",
};

/** One entry of binfmt_misc as the kernel shows it (`/proc/sys/fs/binfmt_misc/<name>`). */
export interface BinfmtHandler {
  name: string;
  enabled: boolean;
  interpreter: string;
  flags: string;
  offset: number;
  magic: Buffer;
  mask: Buffer;
}

const HEX_RE = /^(?:[0-9a-f]{2})+$/;

/**
 * Parse a handler file; undefined for what is not a magic handler (an extension handler, or text
 * that is not what the kernel writes: then it cannot be trusted to run anything).
 */
export function parseBinfmtHandler(name: string, text: string): BinfmtHandler | undefined {
  const lines = text.split("\n").map((l) => l.trim());
  const value = (key: string) => {
    const line = lines.find((l) => l === key || l.startsWith(`${key} `));
    return line === undefined ? undefined : line.slice(key.length).trim();
  };
  const state = lines[0];
  const interpreter = value("interpreter");
  const magic = value("magic");
  const offset = value("offset") ?? "0";
  if ((state !== "enabled" && state !== "disabled") || !interpreter || !magic) return undefined;
  if (!HEX_RE.test(magic) || !/^\d{1,4}$/.test(offset)) return undefined;
  const mask = value("mask");
  if (mask !== undefined && (!HEX_RE.test(mask) || mask.length !== magic.length)) return undefined;
  return {
    name,
    enabled: state === "enabled",
    interpreter,
    flags: value("flags:") ?? "",
    offset: Number(offset),
    magic: Buffer.from(magic, "hex"),
    mask: mask === undefined ? Buffer.alloc(magic.length / 2, 0xff) : Buffer.from(mask, "hex"),
  };
}

/** The first 64 bytes of a 64-bit little-endian ELF program of `arch` (type 2 executable or 3 PIE). */
export function elfHeaderOf(arch: Arch, type: 2 | 3): Buffer {
  const h = Buffer.alloc(64);
  h.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  h.writeUInt16LE(type, 16);
  h.writeUInt16LE(ELF_MACHINE[arch], 18);
  h.writeUInt32LE(1, 20);
  return h;
}

/** Whether the kernel would hand `header` to this handler (magic under mask, at its offset). */
export function handlerMatches(h: BinfmtHandler, header: Buffer): boolean {
  if (h.offset + h.magic.length > header.length) return false;
  for (let i = 0; i < h.magic.length; i++)
    if ((header[h.offset + i]! & h.mask[i]!) !== (h.magic[i]! & h.mask[i]!)) return false;
  return true;
}

/** Both an executable and a PIE of `arch` go to this handler. */
export const handlesArch = (h: BinfmtHandler, arch: Arch): boolean =>
  handlerMatches(h, elfHeaderOf(arch, 2)) && handlerMatches(h, elfHeaderOf(arch, 3));

export type Emulation =
  | { runnable: true; native: true }
  | { runnable: true; native: false; handler: BinfmtHandler }
  | { runnable: false; problem: string; hint: string };

export interface EmulationOptions {
  /** Where binfmt_misc is mounted (a test points this at a directory of its own). */
  binfmtDir?: string;
  /** Node's name of this machine's arch (`process.arch`). */
  hostArch?: string;
  /** Whether a path exists on this machine (the handler's interpreter). */
  exists?: (path: string) => boolean;
}

const SETUP =
  "apt-get install qemu-user-static binfmt-support && update-binfmts --enable (or scripts/deps.sh, as root)";

/** Whether, and how, this machine runs programs of `arch`; when not, what is missing and the fix. */
export function emulationFor(arch: Arch, o: EmulationOptions = {}): Emulation {
  const host = o.hostArch ?? process.arch;
  if (nodeArchToArch(host) === arch) return { runnable: true, native: true };
  const dir = o.binfmtDir ?? BINFMT_MISC;
  const exists = o.exists ?? existsSync;
  const here = `this machine is ${nodeArchToArch(host) ?? host}`;
  const qemu = `qemu-${QEMU_NAME[arch]}`;
  let status: string;
  try {
    status = readFileSync(join(dir, "status"), "utf8").trim();
  } catch {
    return {
      runnable: false,
      problem: `${here} and runs ${arch} programs only through qemu-user, but binfmt_misc is not mounted at ${dir}`,
      hint: `update-binfmts --enable (it mounts binfmt_misc and registers qemu-user-static's handlers); without binfmt-support: ${SETUP}`,
    };
  }
  if (status !== "enabled")
    return {
      runnable: false,
      problem: `${here} and runs ${arch} programs only through qemu-user, but binfmt_misc is switched off (${join(dir, "status")} says ${JSON.stringify(status.slice(0, 40))})`,
      hint: `echo 1 > ${join(dir, "status")}`,
    };
  const handlers: BinfmtHandler[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === "status" || name === "register") continue;
    let text: string;
    try {
      // the kernel's entries are small regular files; anything else (a FIFO would block) is none
      const path = join(dir, name);
      const st = lstatSync(path);
      if (!st.isFile() || st.size > 4096) continue;
      text = readFileSync(path, "utf8");
    } catch {
      continue; // removed while we read
    }
    const h = parseBinfmtHandler(name, text);
    if (h && handlesArch(h, arch)) handlers.push(h);
  }
  const enabled = handlers.filter((h) => h.enabled);
  if (handlers.length === 0)
    return {
      runnable: false,
      problem: `${here} and no binfmt_misc handler in ${dir} runs ${arch} programs (qemu-user for ${arch} is not installed or not registered)`,
      hint: SETUP,
    };
  if (enabled.length === 0)
    return {
      runnable: false,
      problem: `${here} and the binfmt_misc handler for ${arch} (${handlers.map((h) => h.name).join(", ")}) is disabled`,
      hint: `update-binfmts --enable ${handlers[0]!.name}`,
    };
  const unfixed = enabled.find((h) => !h.flags.includes("F"));
  if (unfixed)
    return {
      runnable: false,
      problem: `${here} and the binfmt_misc handler ${unfixed.name} for ${arch} lacks the F (fix-binary) flag (flags: ${unfixed.flags || "none"}): ${arch} programs would need ${unfixed.interpreter} inside the build sandbox and the layer`,
      hint: `register qemu-user-static's handler instead (it has F): echo -1 > ${join(dir, unfixed.name)}; update-binfmts --enable ${qemu}`,
    };
  const gone = enabled.find((h) => !exists(h.interpreter));
  if (gone)
    return {
      runnable: false,
      problem: `${here} and the interpreter of the binfmt_misc handler ${gone.name} for ${arch}, ${gone.interpreter}, does not exist`,
      hint: "apt-get install --reinstall qemu-user-static && update-binfmts --enable",
    };
  return { runnable: true, native: false, handler: enabled[0]! };
}

/** The preflight of a build or update for `arch`: a ToolError (exit 4) naming what is missing. */
export function assertArchRunnable(arch: Arch, o: EmulationOptions = {}): Emulation & { runnable: true } {
  const e = emulationFor(arch, o);
  if (!e.runnable)
    throw new ToolError(
      `cannot run ${arch} programs here: ${e.problem}`,
      { command: `binfmt_misc preflight (${o.binfmtDir ?? BINFMT_MISC})`, exitStatus: null },
      { hint: `${e.hint}; or build on ${/^[aeiox]/.test(arch) ? "an" : "a"} ${arch} machine` },
    );
  return e;
}

/** How a layer's programs run here, for a build log or a check report (`native` or `qemu-riscv64 …`). */
export function describeEmulation(e: Emulation & { runnable: true }): string {
  return e.native
    ? "native"
    : `emulated (binfmt_misc ${e.handler.name}: ${e.handler.interpreter}, flags ${e.handler.flags})`;
}
