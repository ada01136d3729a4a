/**
 * Writes a tar stream to a Writable in large chunks: headers and file contents go into one of two
 * 4 MiB buffers; a full buffer is handed to the consumer (a compressor's stdin) while the other is
 * filled, and is reused once the consumer has taken it. Memory stays bounded whatever the size of
 * the tree, reading overlaps writing, and no buffer is allocated per chunk (no GC churn). File
 * contents are read synchronously straight into the buffer.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { Writable } from "node:stream";
import { InputError } from "../errors.js";
import { BLOCK, END_OF_ARCHIVE, encodeHeader, paddingFor, type TarHeader } from "./tar-header.js";

const CHUNK = 4 << 20;
const ZEROS = Buffer.alloc(BLOCK);

export class TarWriter {
  private buf: Buffer = Buffer.allocUnsafe(CHUNK);
  private spare: Buffer | undefined = Buffer.allocUnsafe(CHUNK);
  /** The write of the other buffer, until the consumer has taken it. */
  private inFlight: Promise<Buffer> | undefined;
  private used = 0;
  /** Uncompressed bytes written so far. */
  bytes = 0;
  members = 0;

  constructor(private readonly out: Writable) {}

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.buf;
    const chunk = full.subarray(0, this.used);
    this.spare ??= (await this.inFlight) as Buffer | undefined;
    this.buf = this.spare!;
    this.spare = undefined;
    this.used = 0;
    this.inFlight = new Promise<Buffer>((resolve, reject) => {
      if (this.out.destroyed) reject(new Error("the stream was closed before all data was written"));
      else this.out.write(chunk, (e) => (e ? reject(e) : resolve(full)));
    });
    this.inFlight.catch(() => {});
  }

  private async put(data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      if (this.used === CHUNK) await this.flush();
      const n = data.copy(this.buf, this.used, off);
      this.used += n;
      off += n;
    }
    this.bytes += data.length;
  }

  private async zeros(n: number): Promise<void> {
    if (n > 0) await this.put(ZEROS.subarray(0, n));
  }

  /** A member without content (directory, symlink, hard link). */
  async addHeader(h: TarHeader): Promise<void> {
    await this.put(encodeHeader({ ...h, size: 0 }));
    this.members++;
  }

  /** A regular file: header with the size the open file has, then its bytes. */
  async addFile(h: Omit<TarHeader, "size" | "type">, path: string): Promise<number> {
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      await this.put(encodeHeader({ ...h, type: "file", size }));
      let position = 0;
      while (position < size) {
        if (this.used === CHUNK) await this.flush();
        const want = Math.min(CHUNK - this.used, size - position);
        const n = readSync(fd, this.buf, this.used, want, position);
        if (n === 0) throw new InputError(`${path}: file shrank while it was being packed`);
        this.used += n;
        position += n;
        this.bytes += n;
      }
      await this.zeros(paddingFor(size));
      this.members++;
      return size;
    } finally {
      closeSync(fd);
    }
  }

  /** The end-of-archive blocks, then everything buffered goes out. */
  async finish(): Promise<void> {
    await this.put(END_OF_ARCHIVE);
    await this.flush();
    await this.inFlight;
  }
}
