/**
 * The compressors: zstd with one worker per core (`-T0`), or pigz (parallel gzip) for `.tar.gz`.
 * Both give the same bytes for the same input whatever the number of cores (zstd's multi-threaded
 * frames do not depend on the worker count; pigz cuts fixed 128 KiB blocks), and `-n` keeps
 * names and times out of the gzip header.
 */
import type { Compression } from "./name.js";

export interface ToolCall {
  cmd: string;
  args: string[];
}

export function compressorFor(c: Compression): ToolCall {
  return c === "zstd" ? { cmd: "zstd", args: ["-q", "-T0", "-c"] } : { cmd: "pigz", args: ["-n", "-c"] };
}

export function decompressorFor(c: Compression): ToolCall {
  return c === "zstd" ? { cmd: "zstd", args: ["-q", "-d", "-c"] } : { cmd: "pigz", args: ["-d", "-c"] };
}

/** The magic number each compressed stream starts with. */
export function compressionOfMagic(head: Buffer): Compression | undefined {
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  return undefined;
}
