/**
 * Reading an artifact: the compressed file is read once, hashed (sha256) as it goes, fed to the
 * decompressor, and the tar stream that comes out is handed to any number of consumers (the
 * verifier, an indexer, `tar -x` when publishing) with backpressure. Every process's exit status
 * is checked; a stream that ends early or is corrupt is told apart by what the decompressor says
 * and by the end-of-archive blocks.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Writable } from "node:stream";
import { isCompatError } from "../errors.js";
import { spawnStreaming, writeWithBackpressure } from "../exec/stream.js";
import { compressionOfMagic, decompressorFor } from "./compress.js";
import type { Compression } from "./name.js";
import { BLOCK } from "./tar-header.js";

export type StreamProblem = "truncated-stream" | "corrupt-stream" | "compression-mismatch";

export class ArtifactStreamError extends Error {
  constructor(
    readonly problem: StreamProblem,
    message: string,
  ) {
    super(message);
    this.name = "ArtifactStreamError";
  }
}

export interface ArtifactStreamResult {
  sha256: string;
  size: number;
  /** Bytes of the uncompressed tar stream. */
  tarBytes: number;
  /** Whether the stream ends with the two zero blocks that close a tar archive. */
  endsWithEndOfArchive: boolean;
}

const TRUNCATED_RE = /unexpected end|incomplete|truncated|premature|unexpected eof/i;

/** Stream an artifact's tar content into `consumers`; they are ended when the stream ends. */
export async function streamArtifact(
  path: string,
  compression: Compression,
  consumers: Writable[],
  onCompressedChunk?: (chunk: Buffer) => void,
  /** Stops the reading (and the decompressor) when aborted; the promise rejects with the signal's reason. */
  signal?: AbortSignal,
): Promise<ArtifactStreamResult> {
  const hash = createHash("sha256");
  let size = 0;
  let checkedMagic = false;
  const dec = decompressorFor(compression);
  const proc = spawnStreaming(dec.cmd, dec.args);
  const input = createReadStream(path, { highWaterMark: 1 << 20 });

  const feeding = (async () => {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      if (!checkedMagic) {
        checkedMagic = true;
        const actual = compressionOfMagic(chunk);
        if (actual !== compression)
          throw new ArtifactStreamError(
            "compression-mismatch",
            `the file name says ${compression} but the data ${actual ? `is ${actual}` : "is not compressed data this program knows"}`,
          );
      }
      hash.update(chunk);
      size += chunk.length;
      onCompressedChunk?.(chunk);
      await writeWithBackpressure(proc.stdin, chunk);
    }
    if (!checkedMagic) throw new ArtifactStreamError("truncated-stream", "the artifact file is empty");
    proc.stdin.end();
  })();

  let tarBytes = 0;
  let tail: Buffer = Buffer.alloc(0);
  const draining = (async () => {
    for await (const chunk of proc.stdout as AsyncIterable<Buffer>) {
      tarBytes += chunk.length;
      tail =
        chunk.length >= 2 * BLOCK
          ? chunk.subarray(chunk.length - 2 * BLOCK)
          : Buffer.concat([tail, chunk]).subarray(-2 * BLOCK);
      const waits = consumers.map((c) => writeWithBackpressure(c, chunk)).filter((w) => w !== undefined);
      if (waits.length) await Promise.all(waits);
    }
  })();

  // A consumer that fails (the verifier on a corrupt header, tar on a full disk) stops everything.
  let consumerError: unknown;
  const consumerFailed = new Promise<never>((_, reject) => {
    for (const c of consumers)
      c.once("error", (e) => {
        consumerError = e;
        reject(e);
      });
  });
  consumerFailed.catch(() => {});
  const decompressorProblem = async (): Promise<ArtifactStreamError | undefined> => {
    try {
      await proc.done;
      return undefined;
    } catch (e) {
      if (!isCompatError(e) || e.kind !== "tool" || /command not found/.test(e.message)) throw e;
      const stderr = proc.stderrTail();
      return new ArtifactStreamError(
        TRUNCATED_RE.test(stderr) ? "truncated-stream" : "corrupt-stream",
        `${dec.cmd} could not decompress it: ${stderr.trim().split("\n").pop() ?? e.message}`,
      );
    }
  };
  const aborted = new Promise<never>((_, reject) => {
    if (signal?.aborted) reject(signal.reason);
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {});
  try {
    await Promise.race([Promise.all([feeding, draining]), consumerFailed, aborted]);
  } catch (e) {
    input.destroy();
    if (e instanceof ArtifactStreamError || e === consumerError || signal?.aborted) {
      proc.kill("SIGKILL");
      await proc.done.catch(() => {});
      throw e;
    }
    // The decompressor stopping early breaks the pipe: its own status says why.
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    const problem = await decompressorProblem().catch(() => undefined);
    clearTimeout(timer);
    throw problem ?? e;
  }
  const problem = await decompressorProblem();
  if (problem) throw problem;
  await Promise.race([Promise.all(consumers.map((c) => endWritable(c))), consumerFailed]);
  const endsWithEndOfArchive =
    tarBytes % BLOCK === 0 && tail.length === 2 * BLOCK && tail.every((b) => b === 0);
  return { sha256: hash.digest("hex"), size, tarBytes, endsWithEndOfArchive };
}

/** End a writable and wait until it has flushed (or failed). */
export function endWritable(w: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (w.writableFinished) {
      resolve();
      return;
    }
    w.once("finish", () => resolve());
    w.once("error", reject);
    w.end();
  });
}
