/**
 * ELF inspection in TypeScript (no `file`, no `readelf`): the header, PT_INTERP and the dynamic
 * section (DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_FLAGS_1). Reads only the parts it needs
 * with positioned reads, so scanning a whole layer stays cheap. `readElfImage` hands the parsed
 * dynamic section on to readers of more dynamic data (elf-symbols.ts: versions and symbols).
 */
import type { Hash } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export type ElfType = "rel" | "exec" | "dyn" | "core" | "other";

export interface ElfInfo {
  bits: 32 | 64;
  littleEndian: boolean;
  type: ElfType;
  /** e_machine, e.g. 62 for x86_64; see `machineArch`. */
  machine: number;
  /** PT_INTERP: the program interpreter (dynamic loader) of a dynamically linked executable. */
  interpreter?: string;
  needed: string[];
  rpath?: string;
  runpath?: string;
  soname?: string;
  /** Has a PT_DYNAMIC segment (dynamically linked object). */
  dynamic: boolean;
  /** DF_1_PIE set: a position-independent executable. */
  pie: boolean;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_SONAME = 14n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;
const DT_FLAGS_1 = 0x6ffffffbn;
const DF_1_PIE = 0x08000000n;
const STRING_TAGS = new Set([DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH]);

const MACHINES: Record<number, string> = {
  62: "x86_64",
  183: "aarch64",
  243: "riscv64",
  21: "ppc64le",
  3: "i386",
  40: "arm",
};

/** The arch name of an e_machine value, as used in layer specs. */
export function machineArch(machine: number): string | undefined {
  return MACHINES[machine];
}

/** Random access to the bytes of an ELF file (a file handle or an in-memory buffer). */
export interface ByteSource {
  read(offset: number, length: number): Promise<Buffer>;
}

/** A file that is not the ELF it claims to be (out-of-bounds offsets, bad tables). */
export class ElfFormatError extends Error {}

/** An ELF object whose dynamic section is parsed, with the means to read more of it. */
export interface ElfImage {
  info: ElfInfo;
  source: ByteSource;
  size: number;
  read: ElfReader;
  /** The dynamic section's entries (tag, value) up to DT_NULL; empty for a static object. */
  dynamic: [bigint, bigint][];
  /** The file offset of a virtual address (through the PT_LOAD segments). */
  offsetOf(vaddr: bigint): number | undefined;
  /** The dynamic string table (DT_STRTAB), when there is one. */
  strtab?: Buffer;
}

export type ElfReader = ReturnType<typeof reader>;

export function isElfHeader(head: Buffer): boolean {
  return head.length >= 4 && head.subarray(0, 4).equals(ELF_MAGIC);
}

/** Parse the ELF file at `path`; undefined when it is not ELF (not even a regular file) or is truncated/malformed. */
export async function readElf(path: string): Promise<ElfInfo | undefined> {
  try {
    return await readElfImage(path, async (image) => image.info);
  } catch (e) {
    if (e instanceof NotRegularFileError) return undefined;
    throw e;
  }
}

/**
 * Parse the ELF file at `path` and hand the image to `use` while the file is open; undefined when
 * it is not ELF or is truncated/malformed (NotRegularFileError when it is not a regular file) (also when `use` finds it malformed: ElfFormatError). With
 * `digest`, every byte read (and its offset) goes into that hash, so two files that read the same
 * give the same digest.
 *
 * Reads are synchronous and go through aligned 64 KiB blocks: the tables an ELF reader wants lie
 * close together, so a file costs a few reads instead of one per table (and no thread-pool trip).
 */
export async function readElfImage<T>(
  path: string,
  use: (image: ElfImage) => Promise<T>,
  digest?: Hash,
): Promise<T | undefined> {
  // O_NONBLOCK: a FIFO put where a library was (a race, or a hostile tree) must not block the process
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const blocks = new Map<number, Buffer>();
  /** The whole buffers behind `blocks` (the last block of a file is a shorter view). */
  const taken: Buffer[] = [];
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(path);
    const size = st.size;
    const offsetBytes = Buffer.alloc(8);
    const readAt = (buf: Buffer, offset: number) => {
      let done = 0;
      while (done < buf.length) {
        const n = readSync(fd, buf, done, buf.length - done, offset + done);
        if (n === 0) throw new ElfFormatError("short read");
        done += n;
      }
    };
    const block = (i: number): Buffer => {
      let b = blocks.get(i);
      if (!b) {
        const whole = spareBlocks.pop() ?? Buffer.allocUnsafe(BLOCK);
        taken.push(whole);
        b = whole.subarray(0, Math.min(BLOCK, size - i * BLOCK));
        readAt(b, i * BLOCK);
        blocks.set(i, b);
      }
      return b;
    };
    const source: ByteSource = {
      async read(offset, length) {
        if (
          !Number.isSafeInteger(offset) ||
          !Number.isSafeInteger(length) ||
          length < 0 ||
          offset < 0 ||
          offset + length > size
        )
          throw new ElfFormatError("out of bounds");
        if (length > MAX_READ) throw new ElfFormatError(`a table of ${length} bytes`);
        let buf: Buffer;
        if (length > 2 * BLOCK) {
          buf = Buffer.allocUnsafe(length);
          readAt(buf, offset);
        } else {
          buf = Buffer.allocUnsafe(length);
          for (let at = offset; at < offset + length; ) {
            const i = Math.floor(at / BLOCK);
            const b = block(i);
            const from = at - i * BLOCK;
            const n = Math.min(b.length - from, offset + length - at);
            b.copy(buf, at - offset, from, from + n);
            at += n;
          }
        }
        if (digest) {
          offsetBytes.writeBigUInt64LE(BigInt(offset));
          digest.update(offsetBytes).update(buf);
        }
        return buf;
      },
    };
    const image = await guarded(() => parseImage(source, size));
    return image ? await guarded(() => use(image)) : undefined;
  } finally {
    closeSync(fd);
    // what was read is copied out of the blocks: the next file reuses them
    for (const b of taken) if (spareBlocks.length < MAX_SPARE_BLOCKS) spareBlocks.push(b);
  }
}

const BLOCK = 65_536;
/** Blocks of finished reads, kept for the next (a fresh 64 KiB buffer per block was most of the garbage). */
const spareBlocks: Buffer[] = [];
const MAX_SPARE_BLOCKS = 64;
/** No table of a real object comes near this (libLLVM's .dynstr is ~12 MB): larger is corrupt. */
const MAX_READ = 256 << 20;
/** The longest PT_INTERP the kernel accepts (PATH_MAX). */
const MAX_INTERP = 4096;

/** The path names a directory, FIFO, device or socket: nothing to parse, and not to be opened blocking. */
export class NotRegularFileError extends Error {
  readonly code = "ENOTREG";
  constructor(readonly path: string) {
    super("not a regular file");
  }
}

/** Malformed input is `undefined`, anything else is thrown on. */
async function guarded<T>(f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ElfFormatError || e instanceof RangeError) return undefined;
    throw e;
  }
}

/** Parse an ELF image held in memory. */
export async function parseElf(buf: Buffer): Promise<ElfInfo | undefined> {
  const source: ByteSource = {
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > buf.length) throw new ElfFormatError("out of bounds");
      return buf.subarray(offset, offset + length);
    },
  };
  return parseFrom(source, buf.length);
}

async function parseFrom(src: ByteSource, size: number): Promise<ElfInfo | undefined> {
  return (await guarded(() => parseImage(src, size)))?.info;
}

async function parseImage(src: ByteSource, size: number): Promise<ElfImage | undefined> {
  if (size < 52) return undefined;
  const ident = await src.read(0, 16);
  if (!isElfHeader(ident)) return undefined;
  const bits = ident[4] === 2 ? 64 : ident[4] === 1 ? 32 : 0;
  const le = ident[5] === 1;
  if (bits === 0 || (ident[5] !== 1 && ident[5] !== 2)) return undefined;
  const r = reader(le, bits);
  const hdr = await src.read(0, bits === 64 ? 64 : 52);
  const eType = r.u16(hdr, 16);
  const machine = r.u16(hdr, 18);
  const phoff = bits === 64 ? Number(r.addr(hdr, 32)) : r.u32(hdr, 28);
  const phentsize = r.u16(hdr, bits === 64 ? 54 : 42);
  const phnum = r.u16(hdr, bits === 64 ? 56 : 44);
  const info: ElfInfo = {
    bits,
    littleEndian: le,
    type: eType === 1 ? "rel" : eType === 2 ? "exec" : eType === 3 ? "dyn" : eType === 4 ? "core" : "other",
    machine,
    needed: [],
    dynamic: false,
    pie: false,
  };
  const loads: { vaddr: bigint; offset: bigint; filesz: bigint }[] = [];
  const image: ElfImage = {
    info,
    source: src,
    size,
    read: r,
    dynamic: [],
    offsetOf(vaddr) {
      const seg = loads.find((l) => vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz);
      return seg ? Number(vaddr - seg.vaddr + seg.offset) : undefined;
    },
  };
  if (phnum === 0 || phoff === 0) return image;
  // glibc's loader refuses program headers of another size; so does this reader (no overlapping reads)
  if (phentsize < (bits === 64 ? 56 : 32)) throw new ElfFormatError(`e_phentsize ${phentsize}`);
  const ph = await src.read(phoff, phentsize * phnum);
  let dynamic: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    const type = r.u32(ph, o);
    const offset = bits === 64 ? r.addr(ph, o + 8) : BigInt(r.u32(ph, o + 4));
    const vaddr = bits === 64 ? r.addr(ph, o + 16) : BigInt(r.u32(ph, o + 8));
    const filesz = bits === 64 ? r.addr(ph, o + 32) : BigInt(r.u32(ph, o + 16));
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    else if (type === PT_INTERP) {
      if (filesz > BigInt(MAX_INTERP)) throw new ElfFormatError(`a PT_INTERP of ${filesz} bytes`);
      const bytes = await src.read(Number(offset), Number(filesz));
      info.interpreter = cString(bytes, 0);
    } else if (type === PT_DYNAMIC) dynamic = { offset: Number(offset), size: Number(filesz) };
  }
  if (!dynamic) return image;
  info.dynamic = true;
  const entSize = bits === 64 ? 16 : 8;
  const dyn = await src.read(dynamic.offset, dynamic.size - (dynamic.size % entSize));
  const entries: [bigint, bigint][] = [];
  for (let o = 0; o + entSize <= dyn.length; o += entSize) {
    const tag = bits === 64 ? r.saddr(dyn, o) : BigInt(r.s32(dyn, o));
    const val = bits === 64 ? r.addr(dyn, o + 8) : BigInt(r.u32(dyn, o + 4));
    if (tag === DT_NULL) break;
    entries.push([tag, val]);
  }
  image.dynamic = entries;
  const strtabAddr = entries.find(([t]) => t === DT_STRTAB)?.[1];
  const strsz = entries.find(([t]) => t === DT_STRSZ)?.[1];
  const namesStrings = entries.some(([t]) => STRING_TAGS.has(t));
  if (strtabAddr === undefined || strsz === undefined) {
    // names without a string table: the loader could not read them either
    if (namesStrings) throw new ElfFormatError("DT_NEEDED, DT_RPATH or DT_SONAME without DT_STRTAB");
    return image;
  }
  const strtabOffset = image.offsetOf(strtabAddr);
  if (strtabOffset === undefined) {
    if (namesStrings) throw new ElfFormatError("DT_STRTAB outside the loaded segments");
    return image;
  }
  const strtab = await src.read(strtabOffset, Number(strsz));
  image.strtab = strtab;
  for (const [tag, val] of entries) {
    if (tag === DT_NEEDED) info.needed.push(cString(strtab, Number(val)));
    else if (tag === DT_RPATH) info.rpath = cString(strtab, Number(val));
    else if (tag === DT_RUNPATH) info.runpath = cString(strtab, Number(val));
    else if (tag === DT_SONAME) info.soname = cString(strtab, Number(val));
    else if (tag === DT_FLAGS_1) info.pie = (val & DF_1_PIE) !== 0n;
  }
  return image;
}

export function cString(buf: Buffer, offset: number): string {
  if (offset >= buf.length) throw new ElfFormatError("string offset out of bounds");
  const end = buf.indexOf(0, offset);
  return buf.toString("utf8", offset, end === -1 ? buf.length : end);
}

/** Integer reads in a file's byte order. */
export function reader(le: boolean, bits: 32 | 64) {
  return {
    u16: (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o)),
    u32: (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o)),
    s32: (b: Buffer, o: number) => (le ? b.readInt32LE(o) : b.readInt32BE(o)),
    addr: (b: Buffer, o: number) => (le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)),
    saddr: (b: Buffer, o: number) => (le ? b.readBigInt64LE(o) : b.readBigInt64BE(o)),
    bits,
    le,
  };
}

/** What the loader does with this object: a dynamically linked executable needs PT_INTERP. */
export function isDynamicExecutable(info: ElfInfo): boolean {
  return info.interpreter !== undefined;
}

/** Split an RPATH/RUNPATH value into directories, expanding $ORIGIN / ${ORIGIN}. */
export function searchPathDirs(value: string | undefined, origin: string): string[] {
  if (!value) return [];
  return value
    .split(":")
    .filter(Boolean)
    .map((d) => d.replace(/\$\{ORIGIN\}|\$ORIGIN/g, origin));
}
