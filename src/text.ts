/**
 * Text for people, the one place for colour and tables: colour only when the stream it goes to is
 * a terminal and NO_COLOR is unset; tables aligned by the visible width of their cells. Commands
 * (src/cli), reports (security/report.ts, checks) and the logger (log.ts, on stderr) use it.
 */

/** Whether text written to `stream` may carry colour. */
export const colourOn = (stream: { isTTY?: boolean } = process.stdout): boolean =>
  Boolean(stream.isTTY) && !process.env.NO_COLOR;

/** SGR codes by name. */
export const SGR = { bold: "1", dim: "2", red: "31", green: "32", yellow: "33" } as const;
export type Paint = keyof typeof SGR;

/** `s` painted for `stream` (plain text when it is not a terminal). */
export function paint(s: string, how: Paint, stream: { isTTY?: boolean } = process.stdout): string {
  return colourOn(stream) ? `\x1b[${SGR[how]}m${s}\x1b[0m` : s;
}

/** Painting for standard output (results, tables). */
export const style: Record<Paint, (s: string) => string> = {
  bold: (s) => paint(s, "bold"),
  dim: (s) => paint(s, "dim"),
  red: (s) => paint(s, "red"),
  green: (s) => paint(s, "green"),
  yellow: (s) => paint(s, "yellow"),
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it replaces
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * `s` with each control character (C0, DEL, C1) but those in `keep` replaced: text that comes from a
 * layer, a package database, a tool, a build host, the store or the network may carry terminal
 * escape sequences (clear the screen, retitle the window, fake a prompt) that must not reach a
 * person's terminal raw. The one mechanism; callers choose how a replaced character is shown.
 */
export function withoutControls(s: string, shown: (c: string) => string, keep = ""): string {
  return s.replace(CONTROL, (c) => (keep.includes(c) ? c : shown(c)));
}

/** withoutControls with each control character but tab and newline shown as `\xNN`. */
export const printableText = (s: string): string =>
  withoutControls(s, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`, "\t\n");

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes to measure width
const ANSI = /\x1b\[[0-9;]*m/g;
export const visibleLength = (s: string): number => s.replace(ANSI, "").length;

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
