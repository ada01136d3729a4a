/** `compat log [--config FILE] [--verify] [--limit N] [--json]`: the store's audit log, and proof of its chain. */
import { type Command, InvalidArgumentError } from "commander";
import { ValidationError } from "../errors.js";
import type { AuditEntry, AuditVerification } from "../store/audit.js";
import { renderTable, style, withoutControls } from "../text.js";
import { jsonOption } from "./common-options.js";
import { printJson } from "./output.js";

interface LogCliOptions {
  config?: string;
  verify?: boolean;
  limit?: number;
  json?: boolean;
}

export function positiveInt(value: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(value)) throw new InvalidArgumentError("expected a whole number ≥ 1");
  return Number(value);
}

export function register(program: Command): void {
  program
    .command("log")
    .description(
      "print the audit log (who did what, when); --verify proves its hash chain intact, exit 3 if not",
    )
    .option(
      "--config <file>",
      "site config (default ./compat.yaml, else ./compat-state/ with a SQLite store)",
    )
    .option(
      "--verify",
      "recompute every row's sha256 and link to the row before; exit 3 naming the first bad row",
    )
    .option("--limit <n>", "only the newest N entries", positiveInt)
    .addOption(jsonOption("print the entries (or with --verify, the verification) as JSON"))
    .action(async (opts: LogCliOptions) => {
      const { loadSiteConfig } = await import("../site/load.js");
      const { withStore } = await import("../store/open.js");
      const { listAudit, verifyAuditLog } = await import("../store/audit.js");
      const site = await loadSiteConfig(opts.config);
      await withStore(site.store, async (store) => {
        if (opts.verify) {
          const result = await verifyAuditLog(store);
          reportVerification(store.description, result, opts.json === true);
          return;
        }
        const entries = await listAudit(store, { limit: opts.limit });
        if (opts.json) printJson({ store: store.description, entries });
        else process.stdout.write(renderEntries(entries));
      });
    });
}

function reportVerification(store: string, result: AuditVerification, json: boolean): void {
  if (json) {
    printJson({ store, ...result });
    if (!result.ok) process.exitCode = 3;
    return;
  }
  if (!result.ok)
    throw new ValidationError(
      result.rows === 0 && result.firstBad.seq === 0
        ? `audit log of ${store}: ${result.firstBad.reason}`
        : `audit log of ${store} is not intact: row ${result.firstBad.seq} is bad (${result.rows} row${result.rows === 1 ? "" : "s"} before it are intact)`,
      {
        details: [`row ${result.firstBad.seq}: ${result.firstBad.reason}`],
        hint: "the log was changed outside compat: restore the store from a backup, and find out who wrote to the database",
      },
    );
  process.stdout.write(
    `${style.green("intact")} audit log of ${store}: ${result.rows} row${result.rows === 1 ? "" : "s"}, each hash and link checked\n` +
      `  head  row ${result.head.seq}  sha256 ${result.head.sha256}\n`,
  );
}

function renderEntries(entries: AuditEntry[]): string {
  if (entries.length === 0) return "the audit log is empty\n";
  return `${renderTable(
    ["#", "when (UTC)", "who", "action", "subject", "detail"],
    entries.map((e) =>
      [
        String(e.seq),
        e.at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
        e.actor,
        e.action,
        e.subject,
        detailText(e.detail),
      ].map(printable),
    ),
  )}\n`;
}

/** `key=value` pairs on one line, long values cut, for the table. */
function detailText(detail: AuditEntry["detail"]): string {
  return Object.entries(detail)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => {
      const text = typeof v === "string" ? v : JSON.stringify(v);
      const oneLine = text.replace(/\s+/g, " ");
      return `${k}=${oneLine.length > 40 ? `${oneLine.slice(0, 39)}…` : oneLine}`;
    })
    .join(" ");
}

/**
 * Text from the store as a terminal shows it safely: control characters (an escape sequence in an
 * actor's name or a reason could rewrite the screen) are shown as `\u{1b}`.
 */
export function printable(text: string): string {
  return withoutControls(text, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}
