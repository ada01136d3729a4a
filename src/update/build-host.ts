/**
 * The site config `compat update` reads on a build host (`--on`, or the arch's executor in
 * `executors:`): the one given, else the executor's `config:`, else, for Slurm, this one (the nodes
 * share its filesystem).
 */
import { resolve } from "node:path";
import { InputError } from "../errors.js";
import type { Executor } from "../exec/executor.js";
import type { SiteConfig, SiteExecutor } from "../site/load.js";

export function buildHostConfig(
  executor: Executor,
  site: SiteConfig,
  o: {
    given?: string;
    configured?: SiteExecutor;
    /** Where the executor comes from, for the message: `--on ssh`, `executors.aarch64`. */
    where: string;
    hint: string;
  },
): string {
  const config =
    o.given ??
    o.configured?.config ??
    (executor.kind === "slurm" && site.file ? resolve(site.file) : undefined);
  if (config) return config;
  throw new InputError(
    executor.kind === "slurm"
      ? `${o.where}: the update needs a site config file (--config) on a filesystem the nodes share`
      : `${o.where}: the update needs the site config's path on the build host`,
    { hint: o.hint },
  );
}
