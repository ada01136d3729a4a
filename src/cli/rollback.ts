/**
 * `compat rollback --to TARGET [--layer V/compat/OS/ARCH] [--config FILE] [--json]`: put back the
 * layer the last publication replaced. A target of the site config records the rollback in the store.
 */
import type { Command } from "commander";
import { InputError } from "../errors.js";
import type { Publisher } from "../publish/publisher.js";
import { style } from "../text.js";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";
import {
  addTargetOptions,
  checkReason,
  publisherFromOptions,
  siteTargetOf,
  type TargetCliOptions,
} from "./publish.js";

/** The layer to act on: --layer, or the only layer the target's history knows. */
export async function chooseLayer(publisher: Publisher, layer: string | undefined): Promise<string> {
  if (layer) return layer.replace(/^\/+|\/+$/g, "");
  const layers = [...new Set((await publisher.history()).map((e) => e.layer))];
  if (layers.length === 1) return layers[0]!;
  if (layers.length > 0)
    throw new InputError(`${publisher.target} has several layers: choose one with --layer`, {
      details: layers,
    });
  const inventory = await publisher.inventory?.();
  const there = inventory ? [...inventory.layers, ...inventory.kept] : [];
  throw new InputError(
    `${publisher.target}: compat has published nothing there, so there is nothing to roll back`,
    {
      ...(there.length > 0
        ? {
            details: ["it holds layers compat did not publish there (or whose history is gone):", ...there],
            hint: "compat rolls back only what its history records; put a kept layer back by hand (mv), or publish its artifact",
          }
        : {}),
    },
  );
}

export function register(program: Command): void {
  const cmd = program
    .command("rollback")
    .description("put back the layer that the last publish (or rollback) of a layer replaced");
  addTargetOptions(cmd, "local:DIR or cvmfs:REPO[@HOST]")
    .option(
      "--layer <dir>",
      "the layer, as <version>/compat/<os>/<arch> (default: the only one published there)",
    )
    .option(
      "--reason <text>",
      "why: recorded in the history (and, shell-safe, in the cvmfs revision's description)",
    )
    .option(
      "--config <file>",
      "site config whose targets --to may name (default ./compat.yaml when there is one)",
    )
    .addOption(jsonOption("print the result as JSON"))
    .action(
      async (
        opts: TargetCliOptions & { layer?: string; reason?: string; json?: boolean; config?: string },
      ) => {
        checkReason(opts.reason);
        const siteTarget = await siteTargetOf(opts);
        const publisher = await publisherFromOptions(opts, siteTarget?.target.to);
        const layer = await chooseLayer(publisher, opts.layer);
        let r: Awaited<ReturnType<typeof publisher.rollback>>;
        if (siteTarget) {
          const { rollbackSiteTarget } = await import("../update/promote.js");
          const { withStore } = await import("../store/open.js");
          r = (
            await withStore(siteTarget.site.store, (store) =>
              rollbackSiteTarget(siteTarget.site, store, siteTarget.target.name, layer, {
                publisher,
                reason: opts.reason,
              }),
            )
          ).result;
        } else r = await publisher.rollback(layer, opts.reason);
        if (opts.json) printJson(r);
        else
          process.stdout.write(
            `${style.green("rolled back")} ${r.path}\n  now      ${r.restoredSha256 ?? "(a layer compat did not publish)"}\n` +
              (r.tag
                ? `  tag      ${r.tag}\n  undo     ${r.keptAs} (a second rollback redoes it)\n`
                : `  replaced layer kept as ${r.keptAs}\n`),
          );
      },
    );
}
