/**
 * POSIX (ustar + pax) tar headers, written the same way every time: fixed owner root:root (0/0),
 * no atime/ctime, names split into ustar prefix/name when they fit and a pax `path` record when
 * they don't. GNU tar, bsdtar and libarchive (cvmfs_server ingest) read these.
 */
export const BLOCK = 512;

export type TarType = "file" | "hardlink" | "symlink" | "directory";

export interface TarHeader {
  /** Full member name; directories end with `/`. */
  name: string;
  type: TarType;
  mode: number;
  size: number;
  mtime: number;
  linkname?: string;
}

const TYPEFLAG: Record<TarType, number> = { file: 0x30, hardlink: 0x31, symlink: 0x32, directory: 0x35 };
const MAX_OCTAL_SIZE = 0o77777777777;

function writeOctal(buf: Buffer, value: number, offset: number, width: number): void {
  // width includes the terminating NUL: width-1 zero-padded octal digits.
  buf.write(value.toString(8).padStart(width - 1, "0"), offset, width - 1, "ascii");
  buf[offset + width - 1] = 0;
}

function checksum(block: Buffer): number {
  let sum = 8 * 0x20; // the checksum field itself counts as spaces
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK; i++) sum += block[i]!;
  return sum;
}

function fillHeader(block: Buffer, name: string, prefix: string, h: TarHeader, size: number): void {
  block.write(name, 0, 100, "utf8");
  writeOctal(block, h.mode & 0o7777, 100, 8);
  writeOctal(block, 0, 108, 8);
  writeOctal(block, 0, 116, 8);
  writeOctal(block, size, 124, 12);
  writeOctal(block, h.mtime, 136, 12);
  block[156] = TYPEFLAG[h.type];
  if (h.linkname && Buffer.byteLength(h.linkname) <= 100) block.write(h.linkname, 157, 100, "utf8");
  block.write("ustar\u000000", 257, 8, "ascii");
  block.write("root", 265, 32, "ascii");
  block.write("root", 297, 32, "ascii");
  writeOctal(block, 0, 329, 8);
  writeOctal(block, 0, 337, 8);
  if (prefix) block.write(prefix, 345, 155, "utf8");
  const sum = checksum(block);
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "ascii");
}

/** Split a name into ustar (prefix, name) at a `/`, or undefined when it cannot be. */
function splitUstar(full: string): [string, string] | undefined {
  if (Buffer.byteLength(full) <= 100) return ["", full];
  // The longest prefix that fits (≤155 bytes) leaves the shortest name (≤100 bytes); skip a trailing `/`.
  for (let i = full.length - 2; i > 0; i--) {
    if (full[i] !== "/") continue;
    const prefix = full.slice(0, i);
    if (Buffer.byteLength(prefix) > 155) continue;
    const name = full.slice(i + 1);
    return Buffer.byteLength(name) <= 100 ? [prefix, name] : undefined;
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  const digits = String(bodyLen).length;
  const len = String(bodyLen + digits).length > digits ? bodyLen + digits + 1 : bodyLen + digits;
  return `${len}${body}`;
}

function paddedLength(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** The header block(s) for one member: a pax extended header first when needed. */
export function encodeHeader(h: TarHeader): Buffer {
  const split = splitUstar(h.name);
  const longLink = h.linkname !== undefined && Buffer.byteLength(h.linkname) > 100;
  const bigSize = h.size > MAX_OCTAL_SIZE;
  if (split && !longLink && !bigSize) {
    const block = Buffer.alloc(BLOCK);
    fillHeader(block, split[1], split[0], h, h.size);
    return block;
  }
  let records = "";
  if (!split) records += paxRecord("path", h.name);
  if (longLink) records += paxRecord("linkpath", h.linkname!);
  if (bigSize) records += paxRecord("size", String(h.size));
  const paxData = Buffer.from(records, "utf8");
  const out = Buffer.alloc(BLOCK + paddedLength(paxData.length) + BLOCK);
  const base = h.name.replace(/\/$/, "").split("/").pop() ?? "";
  const paxName = `PaxHeaders/${base}`.slice(0, 100);
  fillHeader(
    out.subarray(0, BLOCK),
    Buffer.byteLength(paxName) <= 100 ? paxName : "PaxHeaders/entry",
    "",
    { name: "", type: "file", mode: 0o644, size: paxData.length, mtime: h.mtime },
    paxData.length,
  );
  out[156] = 0x78; // 'x': pax extended header for the next member
  const sum = checksum(out.subarray(0, BLOCK));
  out.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "ascii");
  paxData.copy(out, BLOCK);
  const main = out.subarray(BLOCK + paddedLength(paxData.length));
  const shortName = split ? split[1] : truncateUtf8(h.name, 100);
  fillHeader(main, shortName, split ? split[0] : "", h, bigSize ? 0 : h.size);
  return out;
}

function truncateUtf8(s: string, maxBytes: number): string {
  let out = s;
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}

/** Zero bytes that pad a member's data to the next block. */
export function paddingFor(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** A member's data size with its padding: the bytes it takes in the stream. */
export const padded = (size: number): number => size + paddingFor(size);

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/**
 * Gathers the 512-byte header blocks of a tar stream read chunk by chunk (a header may straddle two
 * chunks). The stream's readers (header-scan.ts, tar-spool.ts) hand it the bytes between members'
 * data; a block that lies whole in one chunk is that chunk's bytes, not a copy.
 */
export class HeaderBlocks {
  private partial = Buffer.alloc(0);

  /** Whether a header block has begun and is not yet whole. */
  get started(): boolean {
    return this.partial.length > 0;
  }

  /** Takes bytes of `chunk` from `at` towards the next header block: how many, and the block once whole. */
  take(chunk: Buffer, at: number): { used: number; block?: Buffer } {
    if (this.partial.length === 0 && chunk.length - at >= BLOCK)
      return { used: BLOCK, block: chunk.subarray(at, at + BLOCK) };
    const used = Math.min(BLOCK - this.partial.length, chunk.length - at);
    this.partial = Buffer.concat([this.partial, chunk.subarray(at, at + used)]);
    if (this.partial.length < BLOCK) return { used };
    const block = this.partial;
    this.partial = Buffer.alloc(0);
    return { used, block };
  }

  /** The bytes of a header block that never became whole (a stream cut inside a header). */
  rest(): Buffer {
    return this.partial;
  }
}
