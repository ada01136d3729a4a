/** Start several audit-appender processes at once (see audit-appender.ts) and collect what they report. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { StoreLocation } from "../../src/store/location.js";

const script = join(import.meta.dirname, "audit-appender.ts");

export interface WriterResult {
  name: string;
  status: number | null;
  appended: number;
  ms: number;
  stderr: string;
}

/**
 * `writers` processes, released together once all have opened the store, each appending `count`
 * rows; with `interleave`, each goes on until it has seen a row of every other (so they overlap).
 */
export async function concurrentAppends(
  location: StoreLocation,
  writers: number,
  count: number,
  opts: { interleave?: boolean } = {},
): Promise<WriterResult[]> {
  const names = Array.from({ length: writers }, (_, i) => `writer${i + 1}`);
  const children = names.map((name) => {
    const others = opts.interleave ? names.filter((n) => n !== name) : [];
    const child = spawn(
      process.execPath,
      ["--import", "tsx", script, JSON.stringify(location), String(count), name, ...others],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const lines = createInterface({ input: child.stdout });
    const ready = new Promise<void>((resolve, reject) => {
      lines.once("line", (l) => (l === "ready" ? resolve() : reject(new Error(`${name}: ${l}`))));
      child.once("exit", () => reject(new Error(`${name} exited before ready: ${stderr}`)));
    });
    const done = new Promise<WriterResult>((resolve) => {
      let last = "";
      lines.on("line", (l) => {
        last = l;
      });
      child.once("close", (status) => {
        let report = { appended: 0, ms: 0 };
        try {
          report = JSON.parse(last) as typeof report;
        } catch {
          /* the process failed: status and stderr say why */
        }
        resolve({ name, status, ...report, stderr });
      });
    });
    return { child, ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.child.stdin.end("go\n");
  return Promise.all(children.map((c) => c.done));
}
