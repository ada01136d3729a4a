/**
 * `compat update LAYER --on ssh:HOST|slurm…`: the update (build, pack, gates) run on the build host
 * of the layer's arch, as the site's other commands run it (the same site config, the shared store),
 * its progress streamed here and its JSON result brought back with its sha256 checked.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../errors.js";
import type { Executor } from "../exec/executor.js";
import type { SiteExecutor } from "../site/load.js";
import { NAME_RE, NAME_RULE } from "../site/names.js";
import { buildHostConfig } from "../update/build-host.js";
import type { ExecutorCliOptions } from "./executor-options.js";
import { jobPlace, linePrinter, printable } from "./executor-run.js";
import { printJson } from "./output.js";

export interface RemoteUpdateCliOptions extends ExecutorCliOptions {
  arch?: string;
  from?: string;
  packages?: string[];
  all?: boolean;
  reason?: string;
  resume?: boolean;
  wait?: number;
  json?: boolean;
  remoteConfig?: string;
}

/**
 * The executor the site config gives the layer's arch (`executors:`), when it is not this host;
 * undefined when none is configured or it is `local`.
 */
export async function configuredExecutor(
  layer: string,
  opts: RemoteUpdateCliOptions,
): Promise<{ executor: Executor; arch: string; site: SiteExecutor } | undefined> {
  const { loadSiteConfig } = await import("../site/load.js");
  const site = await loadSiteConfig(opts.config);
  if (Object.keys(site.executors).length === 0) return undefined;
  const { openSiteLayerArch } = await import("../update/site-layer.js");
  const { arch } = await openSiteLayerArch(site, layer, opts.arch);
  const configured = site.executors[arch];
  if (!configured) return undefined;
  const { parseExecutor } = await import("../exec/executor.js");
  const executor = parseExecutor(configured.on, `executors.${arch}`);
  return executor.kind === "local" ? undefined : { executor, arch, site: configured };
}

export async function updateRemote(
  layer: string,
  executor: Executor,
  opts: RemoteUpdateCliOptions,
  configured?: SiteExecutor,
) {
  if (!NAME_RE.test(layer))
    throw new InputError(`${JSON.stringify(layer)} is not a layer name (${NAME_RULE})`);
  const { loadSiteConfig } = await import("../site/load.js");
  const { updateOnExecutor } = await import("../pipeline/remote-build.js");
  const site = await loadSiteConfig(opts.config);
  const config = buildHostConfig(executor, site, {
    given: opts.remoteConfig,
    configured,
    where: `${configured ? `executors.${opts.arch}` : "--on"} ${executor.kind}`,
    hint: configured
      ? `add config: /path/on/the/build/host/compat.yaml to executors.${opts.arch} (or give --remote-config, or --on local to update here)`
      : "give --remote-config PATH",
  });
  const args = [
    ...(opts.arch ? ["--arch", opts.arch] : []),
    ...(opts.from ? ["--from", opts.from] : []),
    ...(opts.packages?.length ? ["--packages", opts.packages.join(",")] : []),
    ...(opts.all ? ["--all"] : []),
    ...(opts.reason !== undefined ? ["--reason", opts.reason] : []),
    ...(opts.resume ? ["--resume"] : []),
    ...(opts.wait !== undefined ? ["--wait", String(opts.wait)] : []),
    // the build host's own site config may name executors too: there, the update runs where it is
    "--on",
    "local",
  ];
  const place = jobPlace(executor, opts, configured, site.stateDir);
  const dir = await mkdtemp(join(tmpdir(), "compat-update-"));
  try {
    const r = await updateOnExecutor({
      layer,
      args,
      config,
      place,
      outDir: dir,
      onLine: linePrinter(undefined),
    });
    if (opts.json) printJson(r.result);
    else {
      const c =
        (r.result as {
          candidate?: { id?: number; state?: string };
          unchanged?: boolean;
          message?: string;
        }) ?? {};
      process.stdout.write(
        printable(
          c.unchanged
            ? `nothing to update (on ${r.where}): ${String(c.message ?? "")}`
            : `candidate ${String(c.candidate?.id)} is ${String(c.candidate?.state)} (built on ${r.where}): see compat candidate ${String(c.candidate?.id)}`,
        ) + "\n",
      );
    }
    if (r.status === 3) process.exitCode = 3;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
