/**
 * `compat status [--layer L] [--arch A] [--json] [--config FILE]`: the site's layers × arches ×
 * targets (the sha256 each target holds) and the open candidates with their gates and approvals.
 */
import type { Command } from "commander";
import { renderTable, style } from "../text.js";
import type { HeldCell, SiteStatus } from "../update/status.js";
import { archOption, jsonOption } from "./common-options.js";
import { printable } from "./log.js";
import { printJson } from "./output.js";
import { addConfigOption, type SiteCliOptions, withSiteStore } from "./site-store.js";

export function register(program: Command): void {
  const cmd = program
    .command("status")
    .description("show which sha256 each target holds of each layer and arch, and the open candidates")
    .option("--layer <name>", "only this layer of the site config")
    .addOption(archOption("only this arch"))
    .addOption(jsonOption("print the matrix as JSON (schema in docs/cli.md)"));
  addConfigOption(cmd).action(
    async (opts: SiteCliOptions & { layer?: string; arch?: string; json?: boolean }) => {
      const { siteStatus } = await import("../update/status.js");
      await withSiteStore(opts, async (site, store) => {
        if (opts.layer !== undefined) (await import("../site/load.js")).siteLayer(site, opts.layer);
        const s = await siteStatus(site, store, { layer: opts.layer, arch: opts.arch });
        if (opts.json) printJson(s);
        else process.stdout.write(renderStatus(s));
      });
    },
  );
}

const short = (sha: string | null) => (sha ? sha.slice(0, 12) : "?");

function cellText(cell: HeldCell | null | { error: string } | undefined): string {
  if (cell === null || cell === undefined) return style.dim("-");
  if ("error" in cell) return style.red(`error: ${printable(cell.error).slice(0, 60)}`);
  const from = cell.candidate !== null ? ` cand ${cell.candidate}` : "";
  const how = cell.action === "rollback" ? " (rolled back)" : cell.kind === "delta" ? " (delta)" : "";
  return `${short(cell.sha256 ?? cell.publishedSha256)}${from}${how}`;
}

export function renderStatus(s: SiteStatus): string {
  if (s.rows.length === 0) return `the site config has no layers (store ${s.store})\n`;
  const out: string[] = [
    renderTable(
      ["layer", "arch", ...s.targets],
      s.rows.map((r) => [r.layer, r.arch, ...s.targets.map((t) => cellText(r.targets[t]))]),
    ),
  ];
  const open = s.rows.flatMap((r) => r.candidates.map((c) => ({ r, c })));
  if (open.length > 0) {
    out.push("", style.bold("open candidates"));
    out.push(
      renderTable(
        ["#", "layer", "arch", "updates", "state", "gates", "approvals", "sha256", "requested by"],
        open.map(({ r, c }) => [
          String(c.id),
          r.layer,
          r.arch,
          c.target,
          c.state,
          Object.entries(c.gates)
            .map(([g, st]) => `${g} ${st === "passed" ? "✓" : st === "running" ? "…" : "✗"}`)
            .join(" ") || "-",
          c.approvals.join(", ") || "-",
          short(c.fullSha256),
          printable(c.requestedBy),
        ]),
      ),
    );
  } else out.push("", "no open candidates");
  return `${out.join("\n")}\n`;
}
