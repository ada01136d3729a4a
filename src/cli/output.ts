/** What commands print: JSON for machines; paths as people read them. Colour and tables: src/text.ts. */
import { writeSync } from "node:fs";
import { relative } from "node:path";

/** A path as people read it: relative to the working directory when it is below it. */
export function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") ? r : p;
}

/**
 * Print what `JSON.stringify(value, null, 2)` gives, in pieces: a report of tens of thousands of
 * findings is not held as one string (and again as its bytes) at once.
 */
export function printJson(value: unknown): void {
  let pending: string[] = [];
  let size = 0;
  writeJson(value, (s) => {
    pending.push(s);
    size += s.length;
    if (size < 1 << 16) return;
    writeOut(pending.join(""));
    pending = [];
    size = 0;
  });
  writeOut(`${pending.join("")}\n`);
}

/** A reader of standard output went away (`| head`): the rest is not written. */
let stdoutGone = false;
/** What a full pipe is waited on with (Atomics.wait sleeps this thread). */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write to standard output now, while nothing waits in process.stdout's queue: a stream's write
 * holds each piece until the event loop turns, which a report written in one go never lets it do
 * (tens of MB held at the end of `compat impact --json`). A full pipe (EAGAIN: a reader slower than
 * us) is waited on, a millisecond at a time, as a blocking write would; a reader gone away stops the
 * output, here and on the stream, and the exit status stays the command's.
 */
function writeOut(text: string): void {
  if (stdoutGone) return;
  watchForClosedReader();
  if (process.stdout.writableLength > 0) {
    process.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text);
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(1, bytes, at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EPIPE") {
        stdoutGone = true;
        return;
      }
      if (code !== "EAGAIN") throw e;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

let watching = false;
/** EPIPE on the stream (what was queued before, or written after) ends the output, not the process. */
function watchForClosedReader(): void {
  if (watching) return;
  watching = true;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && !(stdoutGone && e.code === "ERR_STREAM_DESTROYED")) throw e;
    stdoutGone = true;
  });
}

/** Arrays longer than this are written element by element; shorter ones at once. */
const PIECE = 64;

/** Plain objects this deep or deeper are written at once (the elements of a long array are). */
const OPEN_DEPTH = 3;

/**
 * `JSON.stringify(value, null, 2)` handed to `write` in pieces: plain objects near the top and long
 * arrays are opened up, the rest is stringified whole.
 */
export function writeJson(value: unknown, write: (s: string) => void, indent = ""): void {
  const depth = indent.length / 2;
  const plain =
    value !== null &&
    typeof value === "object" &&
    (Array.isArray(value)
      ? value.length > PIECE
      : depth < OPEN_DEPTH &&
        Object.getPrototypeOf(value) === Object.prototype &&
        typeof (value as { toJSON?: unknown }).toJSON !== "function");
  if (!plain) {
    const text = JSON.stringify(value, null, 2);
    // what JSON.stringify leaves out (undefined, functions) is the caller's to skip
    write(indent === "" ? (text ?? "null") : (text ?? "null").replace(/\n/g, `\n${indent}`));
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    write("[");
    value.forEach((v, i) => {
      write(i === 0 ? `\n${inner}` : `,\n${inner}`);
      writeJson(typeof v === "function" || typeof v === "symbol" ? null : v, write, inner);
    });
    write(`\n${indent}]`);
    return;
  }
  const entries = Object.entries(value).filter(
    ([, v]) => v !== undefined && typeof v !== "function" && typeof v !== "symbol",
  );
  if (entries.length === 0) {
    write("{}");
    return;
  }
  write("{");
  entries.forEach(([k, v], i) => {
    write(`${i === 0 ? "\n" : ",\n"}${inner}${JSON.stringify(k)}: `);
    writeJson(v, write, inner);
  });
  write(`\n${indent}}`);
}
