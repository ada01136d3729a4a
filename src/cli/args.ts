/** Option parsers shared by commands. */

/** A comma-separated, repeatable list option (`--only a,b --only c`): its items, trimmed, empty ones dropped. */
export const commaList = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];
