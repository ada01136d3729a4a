/**
 * The Gentoo Prefix bootstrap script: downloaded from Gentoo at build time or read from a path the
 * spec gives (relative to the spec's directory and inside it, links included), checked against the spec's sha256 when it has one (a mismatch stops the build before
 * anything runs). It is never copied into this repository; the build record keeps the copy used.
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { CompatError, InputError, ToolError, ValidationError } from "../../errors.js";
import { readFileInside } from "../../paths/inside.js";
import type { GentooSettings } from "./spec-section.js";

export type BootstrapScriptSource = GentooSettings["bootstrap"]["script"];

export interface BootstrapScript {
  content: Buffer;
  sha256: string;
  /** Where it came from: a URL or an absolute path. */
  origin: string;
}

export const sha256Of = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

export async function fetchBootstrapScript(
  source: BootstrapScriptSource,
  specDir: string,
  download: (url: string) => Promise<Buffer> = httpGet,
): Promise<BootstrapScript> {
  let content: Buffer;
  let origin: string;
  if (source.path) {
    // A spec may come from a pull request: its script is one beside it, never a file of the host
    // (the script is copied into the build record and published with the layer).
    const what = "gentoo.bootstrap.script.path";
    origin = resolve(specDir, source.path);
    try {
      ({ path: origin, content } = await readFileInside({ base: resolve(specDir), what }, source.path));
    } catch (e) {
      if (e instanceof CompatError) throw e;
      throw new InputError(`${what}: cannot read ${origin}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  } else if (source.url) {
    origin = source.url;
    content = await download(source.url);
  } else throw new InputError("gentoo.bootstrap.script: give a url or a path");
  const sha256 = sha256Of(content);
  if (source.sha256 && source.sha256 !== sha256)
    throw new ValidationError(
      `bootstrap-prefix.sh from ${origin} has sha256 ${sha256}, the spec requires ${source.sha256}`,
      {
        hint: "the script changed upstream or the file is not the one you meant: check it, then update gentoo.bootstrap.script.sha256",
      },
    );
  if (!content.subarray(0, 64).toString("latin1").startsWith("#!"))
    throw new ValidationError(`bootstrap-prefix.sh from ${origin} is not a script (no #! line)`);
  return { content, sha256, origin };
}

async function httpGet(url: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  } catch (e) {
    throw new ToolError(
      `cannot download ${url}: ${(e as Error).cause ?? (e as Error).message}`,
      {
        command: `GET ${url}`,
        exitStatus: null,
      },
      { hint: "check the network, or give the script as gentoo.bootstrap.script.path" },
    );
  }
  if (!res.ok)
    throw new ToolError(`cannot download ${url}: HTTP ${res.status}`, {
      command: `GET ${url}`,
      exitStatus: res.status,
    });
  return Buffer.from(await res.arrayBuffer());
}
