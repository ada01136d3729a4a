/**
 * Reading one GLSA file of a directory for the corpus: its content hash, and,
 * unless the content is the one already cached, its parse (a model, or the reason glsa-check
 * would skip it). The model's parts are written as JSON into a byte buffer at once: bytes cross
 * between threads as one copy and, off the JS heap, cost the garbage collector nothing. The main
 * thread and the worker threads of a parse run the same code.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { GlsaFormatError } from "../../gentoo/glsa/model.js";
import { parseGlsa } from "../../gentoo/glsa/parse.js";
import { contentHash, type FileCheck, GLSA_FILE_RE, type StoredParse, splitGlsa } from "./stored.js";

/** The parts of the files one thread parses, appended into one buffer. */
export class PartsWriter {
  private readonly chunks: Buffer[] = [];
  private length = 0;

  /** Append a JSON text; returns the offset where it ends. */
  add(value: unknown): number {
    const b = Buffer.from(JSON.stringify(value), "utf8");
    this.chunks.push(b);
    this.length += b.length;
    return this.length;
  }

  get end(): number {
    return this.length;
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

/** Parse one GLSA document as the file `name` into `parts`. */
export function parseGlsaText(name: string, content: string, parts: PartsWriter): StoredParse {
  let glsa: ReturnType<typeof parseGlsa>;
  try {
    glsa = parseGlsa(content, GLSA_FILE_RE.exec(name)![1]);
  } catch (e) {
    if (e instanceof GlsaFormatError) return { error: e.message };
    throw e;
  }
  const { packages, summary, rest } = splitGlsa(glsa);
  const offsets = [parts.end, parts.add(packages), parts.add(summary), parts.add(rest)];
  return { packageNames: packages.map((p) => p.name), at: { offsets, base: 0 } };
}

/** Read, hash and (unless its hash is `knownHash`) parse one file into `parts`. */
export function checkFile(
  directory: string,
  name: string,
  parts: PartsWriter,
  knownHash?: string,
): FileCheck {
  const fd = openSync(`${directory}/${name}`, "r");
  let content: Buffer;
  let st: ReturnType<typeof fstatSync>;
  try {
    st = fstatSync(fd);
    content = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < content.length) {
      const n = readSync(fd, content, off, content.length - off, off);
      if (n === 0) break;
      off += n;
    }
    content = content.subarray(0, off);
  } finally {
    closeSync(fd);
  }
  const hash = contentHash(content);
  const check: FileCheck = { name, hash };
  if (hash !== knownHash) check.parsed = parseGlsaText(name, content.toString("utf8"), parts);
  return check;
}

/** Check a share of the files: the checks, and the buffer their parts' offsets refer to. */
export function checkFiles(
  directory: string,
  files: readonly { name: string; knownHash?: string }[],
): { checks: FileCheck[]; parts: Buffer } {
  const parts = new PartsWriter();
  const checks = files.map((f) => checkFile(directory, f.name, parts, f.knownHash));
  return { checks, parts: parts.finish() };
}
