/** What the update-loop commands share: the `--config` option, and the site config with its store open. */
import { type Command, InvalidArgumentError } from "commander";
import type { SiteConfig } from "../site/load.js";
import type { Store } from "../store/store.js";

export interface SiteCliOptions {
  config?: string;
}

export function addConfigOption(cmd: Command): Command {
  return cmd.option(
    "--config <file>",
    "site config (default ./compat.yaml, else ./compat-state/ with a SQLite store)",
  );
}

/** Load the site config, open its store (migrated; exit 4 when it cannot be opened), run `fn`, close it. */
export async function withSiteStore<T>(
  opts: SiteCliOptions,
  fn: (site: SiteConfig, store: Store) => Promise<T>,
): Promise<T> {
  const { loadSiteConfig } = await import("../site/load.js");
  const { withStore } = await import("../store/open.js");
  const site = await loadSiteConfig(opts.config);
  return withStore(site.store, (store) => fn(site, store));
}

/** A candidate id as typed: a whole number ≥ 1. */
export function candidateIdArg(value: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(value))
    throw new InvalidArgumentError("expected a candidate id (a whole number ≥ 1, as compat status shows)");
  return Number(value);
}
