/**
 * A second, independent reading of a tar stream's raw headers, for what the member-level reader
 * (tar-stream) and the extractor (GNU tar) would read differently. Verification must approve
 * exactly what `tar -x` will write, so anything on which two readers can disagree is refused:
 *
 * - a pax global header (`g`): GNU tar applies its `path` to every later member without a header
 *   of its own; tar-stream only merges it into later pax headers. A global `path` puts a member
 *   into another layer while verify sees an innocent name;
 * - GNU long-name headers (`L`, `K`): compat writes pax; how they combine with pax records
 *   differs between readers;
 * - data on a member that has none (directory, link, device): GNU tar does not skip a
 *   directory's data, tar-stream does, so the two lose step and see different members after it;
 * - names that are not UTF-8 (tar-stream decodes them with U+FFFD, GNU tar uses the bytes);
 * - anything but zeros after the end of the archive: GNU tar stops at the first zero block,
 *   tar-stream reads on;
 * - a pax `size` on a member that is not a file: tar-stream skips that much data after a symlink
 *   or hard link, GNU tar does not, and reads it as a member verify never saw;
 * - numbers that are not plain octal (or base-256 where ustar allows it): GNU tar decodes its
 *   obsolete base-64 (`+nt` is mode 04755), tar-stream reads NaN; pax numbers that are not
 *   plain decimal.
 *
 * Pure bookkeeping over the bytes (no decompression, no allocation per member beyond a pax
 * header's records); it runs beside the member verifier on the same stream.
 */
import { isUtf8 } from "node:buffer";
import { Writable } from "node:stream";
import { writeWithBackpressure } from "../exec/stream.js";
import type { Violation } from "./rules.js";
import { BLOCK, HeaderBlocks, padded } from "./tar-header.js";

/** A pax header's records are read whole; one this large is not a header compat writes. */
const MAX_PAX_HEADER = 1 << 20;

export const TYPE_FILE = new Set(["0", "\0", "7"]);
export const TYPE_NO_DATA = new Set(["1", "2", "3", "4", "5", "6"]);

/** The size field: octal text, or base-256 when its first byte has the high bit set. */
export function headerSize(block: Buffer): number {
  const field = block.subarray(124, 136);
  if (field[0]! & 0x80) {
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field
    .toString("latin1")
    .replace(/[\0 ]+$/g, "")
    .trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

/** The numeric fields of a ustar header: name, offset, length, whether base-256 is allowed. */
const NUMERIC_FIELDS = [
  ["mode", 100, 8, false],
  ["uid", 108, 8, true],
  ["gid", 116, 8, true],
  ["size", 124, 12, true],
  ["mtime", 136, 12, true],
  ["checksum", 148, 8, false],
  ["devmajor", 329, 8, false],
  ["devminor", 337, 8, false],
] as const;

/** Fields that are not plain octal (spaces, digits, then NULs or spaces), or positive base-256. */
function numericFieldProblems(block: Buffer): string[] {
  const problems: string[] = [];
  for (const [name, offset, length, base256] of NUMERIC_FIELDS) {
    const f = block.subarray(offset, offset + length);
    if (f[0]! & 0x80) {
      if (!base256 || f[0] !== 0x80) problems.push(`the ${name} field is not a positive base-256 number`);
      continue;
    }
    const text = f.toString("latin1");
    if (!/^ *[0-7]*[ \0]*$/.test(text) || (name === "mode" && !/[0-7]/.test(text)))
      problems.push(`the ${name} field ${JSON.stringify(text)} is not an octal number`);
  }
  return problems;
}

/** A NUL-terminated field's bytes. */
export function field(block: Buffer, offset: number, length: number): Buffer {
  const f = block.subarray(offset, offset + length);
  const end = f.indexOf(0);
  return end === -1 ? f : f.subarray(0, end);
}

/** What a pax header's records tell about the next member. */
export interface PaxInfo {
  size?: number;
  /** The pax `path` record's value, if any. */
  pathValue?: string;
  path: boolean;
  linkpath: boolean;
  /** The pax `linkpath` record's value, if any. */
  linkpathValue?: string;
  utf8: boolean;
  /** Numeric records whose value is not a plain decimal number. */
  badNumbers: string[];
}

const PAX_NUMBERS: Record<string, RegExp> = {
  size: /^\d+$/,
  uid: /^\d+$/,
  gid: /^\d+$/,
  mtime: /^-?\d+(\.\d+)?$/,
  atime: /^-?\d+(\.\d+)?$/,
  ctime: /^-?\d+(\.\d+)?$/,
};

export function paxInfo(data: Buffer): PaxInfo {
  const info: PaxInfo = { path: false, linkpath: false, utf8: isUtf8(data), badNumbers: [] };
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(data.subarray(at, space).toString("latin1"));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    const number = Object.hasOwn(PAX_NUMBERS, key) ? PAX_NUMBERS[key] : undefined;
    if (number && !number.test(value)) info.badNumbers.push(`${key}=${value}`);
    if (key === "size") info.size = Number(value);
    else if (key === "path") {
      info.path = true;
      info.pathValue = value;
    } else if (key === "linkpath") {
      info.linkpath = true;
      info.linkpathValue = value;
    }
    at += length;
  }
  return info;
}

/** A member's name as readers take it: a pax path, else the ustar prefix and name. */
export function memberName(block: Buffer, pax: PaxInfo | undefined): string {
  const name = field(block, 0, 100);
  const ustar = block.subarray(257, 263).toString("latin1") === "ustar\0";
  const prefix = ustar ? field(block, 345, 155) : Buffer.alloc(0);
  return (
    pax?.pathValue ??
    (prefix.length ? `${prefix.toString("utf8")}/${name.toString("utf8")}` : name.toString("utf8"))
  );
}

export class TarHeaderScan extends Writable {
  private offset = 0;
  private readonly headers = new HeaderBlocks();
  /** Bytes of member data still to pass over. */
  private skip = 0;
  /** The current pax header's data, while it is read. */
  private pax: Buffer[] | undefined;
  private paxBytes = 0;
  private paxDataSize = 0;
  /** What the last pax header said about the next member. */
  private nextPax: PaxInfo | undefined;
  private headerAt = 0;
  private ended = false;
  /** Every member's name as GNU tar takes it, in archive order (compared with the verifier's reader). */
  readonly members: string[] = [];
  private afterEndReported = false;

  constructor(private readonly report: (v: Violation) => void) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.scan(chunk);
    callback();
  }

  private scan(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.ended) {
        this.afterEnd(chunk.subarray(i));
        this.offset += chunk.length - i;
        return;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        if (this.pax) {
          const wanted = Math.max(0, Math.min(n, this.paxDataSize - this.paxBytes));
          if (wanted > 0) this.pax.push(chunk.subarray(i, i + wanted));
          this.paxBytes += wanted;
        }
        this.skip -= n;
        i += n;
        this.offset += n;
        if (this.skip === 0 && this.pax) {
          this.nextPax = paxInfo(Buffer.concat(this.pax));
          this.pax = undefined;
          if (!this.nextPax.utf8)
            this.report({
              rule: "non-normalised-name",
              message: `the pax header before byte ${this.offset}: records that are not valid UTF-8`,
            });
        }
        continue;
      }
      if (!this.headers.started) this.headerAt = this.offset;
      const { used, block } = this.headers.take(chunk, i);
      i += used;
      this.offset += used;
      if (block) this.onHeader(block);
    }
  }

  private onHeader(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      this.ended = true;
      return;
    }
    const type = String.fromCharCode(block[156]!);
    const name = field(block, 0, 100);
    const pax = this.nextPax;
    const shown = memberName(block, pax);
    const where = `the header at byte ${this.headerAt}${shown ? ` (${shown})` : ""}`;
    const refuse = (message: string) =>
      this.report({ rule: "unsupported-header", member: shown || undefined, message });
    for (const problem of numericFieldProblems(block)) refuse(`${where}: ${problem}`);
    let size = headerSize(block);
    if (!Number.isSafeInteger(size) || size < 0) {
      this.report({ rule: "corrupt-stream", message: `${where} has an unreadable size field` });
      size = 0;
    }
    // The ustar name fields of a pax header, and those a pax record replaces, are only fallbacks
    // (GNU tar cuts them at 100 bytes, even inside a UTF-8 sequence).
    const fields = [
      ["name", 0, 100, type !== "x" && !pax?.path],
      ["link name", 157, 100, type !== "x" && !pax?.linkpath],
      ["name prefix", 345, 155, type !== "x" && !pax?.path],
    ] as const;
    for (const [what, offset, length, used] of fields)
      if (used && !isUtf8(field(block, offset, length)))
        this.report({
          rule: "non-normalised-name",
          message: `${where}: a ${what} that is not valid UTF-8 (readers decode it differently)`,
        });

    if (type === "x") {
      if (size > MAX_PAX_HEADER) refuse(`${where}: a pax header of ${size} bytes`);
      else {
        this.pax = [];
        this.paxBytes = 0;
        this.paxDataSize = size;
      }
      this.skip = padded(size);
      return;
    }
    if (type === "g" || type === "L" || type === "K") {
      refuse(
        type === "g"
          ? `${where}: a pax global header (GNU tar applies it to every later member)`
          : `${where}: a GNU long ${type === "L" ? "name" : "link"} header (artifacts are pax)`,
      );
      this.skip = padded(size);
      this.nextPax = undefined;
      return;
    }
    this.members.push(shown);
    if (TYPE_NO_DATA.has(type) && size !== 0)
      refuse(`${where}: ${size} bytes of data on a member of type ${type}, which has none`);
    else if (TYPE_FILE.has(type) && name.at(-1) === 0x2f && !pax?.path)
      refuse(`${where}: a file member whose name ends in / (old readers take it for a directory)`);
    if (pax && pax.badNumbers.length > 0)
      refuse(`${where}: pax numbers that are not plain decimal (${pax.badNumbers.join(", ")})`);
    if (pax?.size !== undefined && !TYPE_FILE.has(type))
      refuse(
        `${where}: a pax size on a member of type ${type}, which has no data (GNU tar does not skip it)`,
      );
    if (TYPE_FILE.has(type) && pax?.size !== undefined) size = pax.size;
    this.nextPax = undefined;
    // Types the member rules refuse anyway (sparse, volume …) are passed over by their size field.
    this.skip = TYPE_NO_DATA.has(type) ? 0 : padded(size);
  }

  private afterEnd(rest: Buffer): void {
    if (this.afterEndReported) return;
    const at = rest.findIndex((b) => b !== 0);
    if (at === -1) return;
    this.afterEndReported = true;
    this.report({
      rule: "data-after-end",
      message: `data at byte ${this.offset + at}, after the end-of-archive block: GNU tar stops at the end, other readers go on`,
    });
  }
}

/**
 * The verifier's copy of the stream, made readable for tar-stream where GNU tar's pax output trips
 * it: for a path over 100 bytes GNU tar writes a pax `path` and, as the ustar name, the path's first
 * 100 bytes; when those end at a `/`, tar-stream takes the file for a directory (and loses step
 * with the archive), while GNU tar and libarchive use the pax path. In such a header (a file with a
 * pax path) the trailing `/` of the unused ustar name becomes a NUL and the checksum is made again.
 * Only what the verifier's reader sees changes; the extracted bytes are the artifact's.
 */
export class PaxFallbackNameFix extends Writable {
  private readonly headers = new HeaderBlocks();
  private skip = 0;
  private pax: Buffer[] | undefined;
  private paxSize = 0;
  private paxPath = false;
  private paxDataSize: number | undefined;
  private ended = false;

  constructor(private readonly target: Writable) {
    super();
    target.on("error", (e) => this.destroy(e));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.ended) {
        out.push(chunk.subarray(i));
        break;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        if (this.pax) this.pax.push(chunk.subarray(i, i + n));
        out.push(chunk.subarray(i, i + n));
        this.skip -= n;
        i += n;
        if (this.skip === 0 && this.pax) {
          const info = paxInfo(Buffer.concat(this.pax).subarray(0, this.paxSize));
          this.paxPath = info.path;
          this.paxDataSize = info.size;
          this.pax = undefined;
        }
        continue;
      }
      const { used, block } = this.headers.take(chunk, i);
      i += used;
      if (block) out.push(this.onHeader(block));
    }
    const all = out.length === 1 ? out[0]! : Buffer.concat(out);
    const wait = all.length > 0 ? writeWithBackpressure(this.target, all) : undefined;
    if (wait) wait.then(() => cb(), cb);
    else cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    const rest = this.headers.rest();
    if (rest.length > 0) this.target.write(rest);
    this.target.once("finish", () => cb());
    this.target.end();
  }

  private onHeader(block: Buffer): Buffer {
    if (block.every((b) => b === 0)) {
      this.ended = true;
      return block;
    }
    const type = String.fromCharCode(block[156]!);
    const size = headerSize(block);
    if (type === "x") {
      this.pax = [];
      this.paxSize = size;
      this.skip = padded(size);
      return block;
    }
    const hadPath = this.paxPath;
    const dataSize = TYPE_FILE.has(type) ? (this.paxDataSize ?? size) : size;
    this.paxPath = false;
    this.paxDataSize = undefined;
    this.skip = TYPE_NO_DATA.has(type) || !Number.isSafeInteger(dataSize) ? 0 : padded(dataSize);
    const name = field(block, 0, 100);
    if (!(hadPath && TYPE_FILE.has(type) && name.at(-1) === 0x2f)) return block;
    const fixed = Buffer.from(block);
    fixed[name.length - 1] = 0;
    let sum = 8 * 0x20;
    for (let k = 0; k < BLOCK; k++) if (k < 148 || k >= 156) sum += fixed[k]!;
    fixed.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
    return fixed;
  }
}
