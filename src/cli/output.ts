/** Rendering helpers shared by commands: JSON for machines, aligned tables for people. */
import { relative } from "node:path";

/** A path as people read it: relative to the working directory when it is below it. */
export function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") ? r : p;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const isTty = (): boolean => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

export const style = {
  bold: (s: string) => (isTty() ? `\x1b[1m${s}\x1b[0m` : s),
  dim: (s: string) => (isTty() ? `\x1b[2m${s}\x1b[0m` : s),
  red: (s: string) => (isTty() ? `\x1b[31m${s}\x1b[0m` : s),
  green: (s: string) => (isTty() ? `\x1b[32m${s}\x1b[0m` : s),
  yellow: (s: string) => (isTty() ? `\x1b[33m${s}\x1b[0m` : s),
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes to measure width
const ANSI = /\x1b\[[0-9;]*m/g;
const visibleLength = (s: string) => s.replace(ANSI, "").length;

/** A plain aligned table: header row, a rule, then rows. Cells are strings already styled. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ""))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - visibleLength(c))))
      .join("  ")
      .trimEnd();
  return [
    line(header.map((h) => style.bold(h))),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ].join("\n");
}
