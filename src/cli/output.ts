/** What commands print: JSON for machines; paths as people read them. Colour and tables: src/text.ts. */
import { relative } from "node:path";

/** A path as people read it: relative to the working directory when it is below it. */
export function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") ? r : p;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
