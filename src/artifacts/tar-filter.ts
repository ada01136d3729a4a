/**
 * Passes on only some members of a tar stream, byte for byte: each kept member's pax header, ustar
 * header and data exactly as they came, the others skipped, then the end-of-archive blocks. A
 * replacement publishes from a full artifact only the entries that differ from the published
 * layer, and the extractor (GNU tar, locally or over ssh) sees only those. The stream has passed
 * verify's raw header scan (header-scan.ts): ustar headers, pax `x` headers, no global or GNU
 * long-name headers (refused here too), names as both readers take them.
 */
import { Writable } from "node:stream";
import { headerSize, memberName, type PaxInfo, paxInfo, TYPE_NO_DATA } from "./header-scan.js";
import { writeWithBackpressure } from "./process.js";
import { BLOCK } from "./tar-header.js";

const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

export class TarMemberFilter extends Writable {
  private header = Buffer.alloc(0);
  /** Bytes of the current member's (or pax header's) data still to come. */
  private remaining = 0;
  private passing = false;
  /** A pax header and its data, held until the member it belongs to is known. */
  private paxBlocks: Buffer[] | undefined;
  private paxDataSize = 0;
  private pax: PaxInfo | undefined;
  private heldPax: Buffer[] = [];
  private ended = false;
  /** Members passed on, and skipped. */
  kept = 0;
  skipped = 0;

  /** `keep(name)`: the member's name as GNU tar takes it (directories without their trailing `/`). */
  constructor(
    private readonly target: Writable,
    private readonly keep: (name: string) => boolean,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    let out: Buffer[];
    try {
      out = this.scan(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    this.send(out).then(() => cb(), cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.ended) {
      cb(new Error("the tar stream ended without its end-of-archive blocks"));
      return;
    }
    this.target.end(Buffer.alloc(2 * BLOCK), () => cb());
  }

  private async send(parts: Buffer[]): Promise<void> {
    for (const p of parts) {
      const wait = writeWithBackpressure(this.target, p);
      if (wait) await wait;
    }
  }

  private scan(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length && !this.ended) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        const part = chunk.subarray(i, i + n);
        if (this.paxBlocks) this.paxBlocks.push(Buffer.from(part));
        else if (this.passing) out.push(part);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0 && this.paxBlocks) {
          const all = Buffer.concat(this.paxBlocks);
          this.pax = paxInfo(all.subarray(BLOCK, BLOCK + this.paxDataSize));
          this.heldPax = [all];
          this.paxBlocks = undefined;
        }
        continue;
      }
      let block: Buffer;
      if (this.header.length === 0 && chunk.length - i >= BLOCK) {
        block = chunk.subarray(i, i + BLOCK);
        i += BLOCK;
      } else {
        const n = Math.min(BLOCK - this.header.length, chunk.length - i);
        this.header = Buffer.concat([this.header, chunk.subarray(i, i + n)]);
        i += n;
        if (this.header.length < BLOCK) continue;
        block = this.header;
        this.header = Buffer.alloc(0);
      }
      out.push(...this.onHeader(block));
    }
    return out;
  }

  private onHeader(block: Buffer): Buffer[] {
    if (block.every((b) => b === 0)) {
      this.ended = true;
      return [];
    }
    const type = String.fromCharCode(block[156]!);
    const size = headerSize(block);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error("a tar header with an unreadable size");
    if (type === "x") {
      this.paxBlocks = [Buffer.from(block)];
      this.paxDataSize = size;
      this.remaining = padded(size);
      if (this.remaining === 0) {
        this.pax = paxInfo(Buffer.alloc(0));
        this.heldPax = [Buffer.from(block)];
        this.paxBlocks = undefined;
      }
      return [];
    }
    if (type === "g" || type === "L" || type === "K")
      throw new Error(`a tar header of type ${type}, which an artifact does not have`);
    const name = memberName(block, this.pax).replace(/\/+$/, "");
    const dataSize = TYPE_NO_DATA.has(type) ? 0 : (this.pax?.size ?? size);
    this.passing = this.keep(name);
    const out = this.passing ? [...this.heldPax, Buffer.from(block)] : [];
    if (this.passing) this.kept++;
    else this.skipped++;
    this.heldPax = [];
    this.pax = undefined;
    this.remaining = padded(dataSize);
    return out;
  }
}
