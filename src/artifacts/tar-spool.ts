/**
 * Keeps some members of a tar stream in a file, byte for byte: each member (its pax header, ustar
 * header and data exactly as they came) is written to the file as it passes, and when the member
 * is complete — its content hashed — `keep` decides; a member not kept is taken back (the next one
 * overwrites it, the file is cut at the end). Then the end-of-archive blocks. A replacement of a
 * published layer thus keeps, during the one verification pass over a full artifact, exactly the
 * entries that differ from the layer, and extracts only those afterwards, from a private file, with
 * no second read of the artifact. Memory does not grow with member sizes. The stream has passed
 * verify's raw header scan (header-scan.ts) beside it: ustar headers and pax `x` headers only
 * (global and GNU long-name headers are refused here too), names as both readers take them.
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { Writable } from "node:stream";
import { field, headerSize, memberName, type PaxInfo, paxInfo, TYPE_NO_DATA } from "./header-scan.js";
import { BLOCK, HeaderBlocks, padded } from "./tar-header.js";

/** A member as the raw headers give it, once its data has passed. */
export interface RawMember {
  /** Its name (a directory's without the trailing `/`). */
  name: string;
  /** The ustar type flag: `0` file, `1` hard link, `2` symlink, `5` directory … */
  typeflag: string;
  mode: number;
  /** A link's target (pax `linkpath`, else the ustar field). */
  linkname: string;
  /** A regular file's content sha256. */
  sha256?: string;
  size: number;
}

export class TarSpool extends Writable {
  private readonly fd: number;
  /** Where the next byte goes, and where the current member began. */
  private pos = 0;
  private memberStart = 0;
  private readonly headers = new HeaderBlocks();
  /** Data bytes of the current member (or pax header) still to come; its unpadded size. */
  private remaining = 0;
  private dataLeft = 0;
  private paxData: Buffer[] | undefined;
  private paxSize = 0;
  private pax: PaxInfo | undefined;
  private member: Omit<RawMember, "sha256"> | undefined;
  private hash: Hash | undefined;
  private ended = false;
  /** Names of the members kept, in archive order. */
  readonly kept: string[] = [];
  /**
   * Why the spool is not a complete archive (a header it cannot take, no end-of-archive blocks):
   * verification rejects such a stream too, so it only reports and stops keeping.
   */
  problem: string | undefined;

  constructor(
    readonly path: string,
    private readonly keep: (m: RawMember) => boolean,
  ) {
    super();
    this.fd = openSync(path, "w", 0o600);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.problem === undefined)
      try {
        this.scan(chunk);
      } catch (e) {
        this.problem = (e as Error).message;
      }
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    try {
      if (!this.ended) this.problem ??= "the tar stream ended without its end-of-archive blocks";
      else this.put(Buffer.alloc(2 * BLOCK));
      ftruncateSync(this.fd, this.pos);
      closeSync(this.fd);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    try {
      closeSync(this.fd);
    } catch {
      /* closed at the end already */
    }
    cb(e);
  }

  private put(bytes: Buffer): void {
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off, this.pos + off);
    this.pos += bytes.length;
  }

  private scan(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length && !this.ended) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        const part = chunk.subarray(i, i + n);
        this.put(part);
        if (this.paxData) this.paxData.push(Buffer.from(part));
        if (this.hash && this.dataLeft > 0) this.hash.update(part.subarray(0, Math.min(n, this.dataLeft)));
        this.dataLeft = Math.max(0, this.dataLeft - n);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) this.endOfData();
        continue;
      }
      const { used, block } = this.headers.take(chunk, i);
      i += used;
      if (block) this.onHeader(block);
    }
  }

  private onHeader(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      this.ended = true;
      return;
    }
    const type = String.fromCharCode(block[156]!);
    const size = headerSize(block);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error("a tar header with an unreadable size");
    if (type === "g" || type === "L" || type === "K")
      throw new Error(`a tar header of type ${type}, which an artifact does not have`);
    if (type === "x") {
      if (!this.pax && !this.paxData) this.memberStart = this.pos; // a pax header begins its member
      this.put(block);
      this.paxData = [];
      this.paxSize = size;
      this.remaining = padded(size);
      this.dataLeft = 0;
      if (this.remaining === 0) this.endOfData();
      return;
    }
    if (!this.pax) this.memberStart = this.pos;
    this.put(block);
    const dataSize = TYPE_NO_DATA.has(type) ? 0 : (this.pax?.size ?? size);
    const linkname = this.pax?.linkpathValue ?? field(block, 157, 100).toString("utf8");
    this.member = {
      name: memberName(block, this.pax).replace(/\/+$/, ""),
      typeflag: type,
      mode: Number.parseInt(field(block, 100, 8).toString("latin1").trim() || "0", 8) & 0o7777,
      linkname,
      size: dataSize,
    };
    this.pax = undefined;
    this.hash = TYPE_NO_DATA.has(type) ? undefined : createHash("sha256");
    this.dataLeft = dataSize;
    this.remaining = padded(dataSize);
    if (this.remaining === 0) this.endOfData();
  }

  /** The data of a pax header, or of a member, is complete. */
  private endOfData(): void {
    if (this.paxData) {
      this.pax = paxInfo(Buffer.concat(this.paxData).subarray(0, this.paxSize));
      this.paxData = undefined;
      return;
    }
    const m = this.member!;
    const sha256 = this.hash?.digest("hex");
    this.member = undefined;
    this.hash = undefined;
    if (this.keep({ ...m, ...(sha256 !== undefined ? { sha256 } : {}) })) this.kept.push(m.name);
    else this.pos = this.memberStart;
  }
}
