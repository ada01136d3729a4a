/**
 * The symbol side of an ELF object's dynamic interface, as glibc's loader sees it: the versions it
 * needs from each library (`.gnu.version_r`, VERNEED), the versions it defines (`.gnu.version_d`,
 * VERDEF), its undefined dynamic symbols with the version each is bound to (`.gnu.version`,
 * VERSYM), and a lookup of its defined symbols through its own hash table (DT_GNU_HASH, else
 * DT_HASH), so a library's symbols are never decoded one by one.
 *
 * Found through the dynamic section alone (section headers are not read: stripped objects have the
 * same dynamic data). Reads the dynamic symbol table, its string table, the version sections and the
 * hash table, nothing else; `digest` is the sha256 of exactly those bytes (with their offsets), so
 * two objects with the same digest resolve, need and define the same.
 *
 *   const abi = await readElfAbi("/usr/bin/python3");
 *   abi.needs        // [{ file: "libc.so.6", versions: [{ name: "GLIBC_2.34", weak: false }, …] }, …]
 *   abi.undefined    // [{ name: "malloc", version: "GLIBC_2.2.5", file: "libc.so.6", weak: false }, …]
 *   libc.symbols?.defines("malloc", "GLIBC_2.2.5")   // true
 */
import { createHash } from "node:crypto";
import { cString, ElfFormatError, type ElfImage, type ElfInfo, readElfImage, reader } from "./elf.js";

const DT_HASH = 4n;
const DT_SYMTAB = 6n;
const DT_SYMENT = 11n;
const DT_GNU_HASH = 0x6ffffef5n;
const DT_VERSYM = 0x6ffffff0n;
const DT_VERDEF = 0x6ffffffcn;
const DT_VERDEFNUM = 0x6ffffffdn;
const DT_VERNEED = 0x6ffffffen;
const DT_VERNEEDNUM = 0x6fffffffn;

const VER_FLG_BASE = 0x1;
const VER_FLG_WEAK = 0x2;
const VERSYM_HIDDEN = 0x8000;
const SHN_UNDEF = 0;
const SHN_ABS = 0xfff1;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STB_GNU_UNIQUE = 10;
const STT_TLS = 6;
/** STT_NOTYPE, OBJECT, FUNC, COMMON, TLS, GNU_IFUNC: what glibc's check_match accepts as a definition. */
const DEFINITION_TYPES = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 5) | (1 << 6) | (1 << 10);

/** At most this many entries in a version chain or symbol table: beyond it a file is corrupt. */
const MAX_VERSION_ENTRIES = 65_535;
const MAX_SYMBOLS = 4_000_000;

export interface VersionNeed {
  /** The library the versions are needed from, as named in DT_NEEDED (`libc.so.6`). */
  file: string;
  /** Read only: the impact check's object store shares equal entries between objects. */
  versions: readonly VersionNeeded[];
}

export interface VersionNeeded {
  readonly name: string;
  readonly weak: boolean;
}

export interface UndefinedSymbol {
  /** The name (its bytes as latin1, so any byte sequence survives). */
  name: string;
  /** The version it is bound to (`GLIBC_2.34`), and the library that version is needed from. */
  version?: string;
  file?: string;
  /** STB_WEAK: the program runs without it. */
  weak: boolean;
  /** STT_* of the reference (2 = function, 1 = data). */
  type: number;
}

export interface ElfAbi {
  info: ElfInfo;
  /** sha256 of every byte read: the header, program headers, dynamic section and the tables below. */
  digest: string;
  needs: VersionNeed[];
  /** Version names the object defines (not its base entry); undefined when it has no VERDEF. */
  defines?: string[];
  undefined: UndefinedSymbol[];
  /** Lookup of defined symbols; undefined when the object has no dynamic symbol table. */
  symbols?: SymbolTable;
}

/**
 * What to read: `undefined` decodes the undefined symbols (for an object whose needs are checked),
 * `lookup` keeps the tables for lookups (for a library others bind to).
 */
export interface AbiParts {
  undefined?: boolean;
  lookup?: boolean;
}

/** Read the version and symbol data of the ELF object at `path`; undefined when it is not ELF or is malformed. */
export async function readElfAbi(
  path: string,
  parts: AbiParts = { undefined: true, lookup: true },
): Promise<ElfAbi | undefined> {
  const hash = createHash("sha256");
  const abi = await readElfImage(path, (image) => abiOf(image, parts), hash);
  if (abi) abi.digest = hash.digest("hex");
  return abi;
}

async function abiOf(image: ElfImage, parts: AbiParts): Promise<ElfAbi> {
  const abi: ElfAbi = { info: image.info, digest: "", needs: [], undefined: [] };
  const strtab = image.strtab;
  if (!image.info.dynamic || !strtab) return abi;
  const tag = (t: bigint) => image.dynamic.find(([x]) => x === t)?.[1];
  const r = image.read;
  const is64 = image.info.bits === 64;

  const at = (t: bigint): number | undefined => {
    const v = tag(t);
    if (v === undefined) return undefined;
    const off = image.offsetOf(v);
    if (off === undefined)
      throw new ElfFormatError(`dynamic tag 0x${t.toString(16)} points outside the file`);
    return off;
  };

  // Version indexes (vna_other / vd_ndx) → names, as glibc's l_versions.
  const versionNames = new Map<number, { name: string; file?: string }>();

  const verneedAt = at(DT_VERNEED);
  if (verneedAt !== undefined) {
    const count = Number(tag(DT_VERNEEDNUM) ?? 0n);
    if (count > MAX_VERSION_ENTRIES) throw new ElfFormatError("too many VERNEED entries");
    let off = verneedAt;
    for (let i = 0; i < count; i++) {
      const vn = await image.source.read(off, 16);
      const cnt = r.u16(vn, 2);
      const file = cString(strtab, r.u32(vn, 4));
      const versions: VersionNeeded[] = [];
      let auxOff = off + r.u32(vn, 8);
      for (let j = 0; j < cnt; j++) {
        const aux = await image.source.read(auxOff, 16);
        const name = cString(strtab, r.u32(aux, 8));
        const flags = r.u16(aux, 4);
        const other = r.u16(aux, 6) & 0x7fff;
        versions.push({ name, weak: (flags & VER_FLG_WEAK) !== 0 });
        versionNames.set(other, { name, file });
        const next = r.u32(aux, 12);
        if (next === 0) break;
        auxOff += next;
      }
      abi.needs.push({ file, versions });
      const next = r.u32(vn, 12);
      if (next === 0) break;
      off += next;
    }
  }

  const verdefAt = at(DT_VERDEF);
  if (verdefAt !== undefined) {
    const count = Number(tag(DT_VERDEFNUM) ?? 0n);
    if (count > MAX_VERSION_ENTRIES) throw new ElfFormatError("too many VERDEF entries");
    abi.defines = [];
    let off = verdefAt;
    for (let i = 0; i < count; i++) {
      const vd = await image.source.read(off, 20);
      const flags = r.u16(vd, 2);
      const ndx = r.u16(vd, 4);
      const cnt = r.u16(vd, 6);
      if (cnt > 0) {
        const aux = await image.source.read(off + r.u32(vd, 12), 8);
        const name = cString(strtab, r.u32(aux, 0));
        versionNames.set(ndx & 0x7fff, { name });
        if ((flags & VER_FLG_BASE) === 0) abi.defines.push(name);
      }
      const next = r.u32(vd, 16);
      if (next === 0) break;
      off += next;
    }
  }

  const symtabAt = at(DT_SYMTAB);
  if (symtabAt === undefined) return abi;
  const syment = Number(tag(DT_SYMENT) ?? BigInt(is64 ? 24 : 16));
  if (syment !== (is64 ? 24 : 16)) throw new ElfFormatError(`DT_SYMENT ${syment} is not the ELF symbol size`);
  const gnuHashAt = at(DT_GNU_HASH);
  const hashAt = gnuHashAt === undefined ? at(DT_HASH) : undefined;
  const hashTable =
    gnuHashAt !== undefined
      ? await readGnuHash(image, gnuHashAt)
      : hashAt !== undefined
        ? await readSysvHash(image, hashAt)
        : undefined;
  // Without a hash table the symbol count is unknown: the table ends where the string table starts.
  const count = hashTable?.symbolCount ?? symbolsBefore(image, symtabAt, syment);
  if (count > MAX_SYMBOLS) throw new ElfFormatError("too many dynamic symbols");
  const symtab = await image.source.read(symtabAt, count * syment);
  const versymAt = at(DT_VERSYM);
  const versym = versymAt === undefined ? undefined : await image.source.read(versymAt, count * 2);

  if (!parts.undefined && !parts.lookup) return abi;
  const table = new SymbolTable({
    read: r,
    strtab,
    symtab,
    syment,
    sym: symbolReader(r, symtab, syment),
    count,
    versym,
    versionNames,
    hash: hashTable,
    bytes: strtab.length + symtab.length + (versym?.length ?? 0) + (hashTable ? hashBytes(hashTable) : 0),
  });
  if (parts.undefined) abi.undefined = table.undefinedSymbols();
  if (parts.lookup) abi.symbols = table;
  return abi;
}

function hashBytes(h: GnuHash | SysvHash): number {
  return h.buckets.length + h.chains.length + (h.kind === "gnu" ? h.bloom.length : 0);
}

/** Fields of the dynamic symbols (Elf32_Sym / Elf64_Sym). */
function symbolReader(r: ElfImage["read"], symtab: Buffer, syment: number) {
  const is64 = r.bits === 64;
  return {
    name: (i: number) => r.u32(symtab, i * syment),
    info: (i: number) => symtab[i * syment + (is64 ? 4 : 12)]!,
    bind: (i: number) => symtab[i * syment + (is64 ? 4 : 12)]! >> 4,
    type: (i: number) => symtab[i * syment + (is64 ? 4 : 12)]! & 0xf,
    shndx: (i: number) => r.u16(symtab, i * syment + (is64 ? 6 : 14)),
    /** st_value is zero (only whether it is, which is all the lookup needs). */
    valueIsZero: (i: number) =>
      is64
        ? r.u32(symtab, i * syment + 8) === 0 && r.u32(symtab, i * syment + 12) === 0
        : r.u32(symtab, i * syment + 4) === 0,
  };
}

type SymbolFields = ReturnType<typeof symbolReader>;

function symbolsBefore(image: ElfImage, symtabAt: number, syment: number): number {
  const strtabAt = image.offsetOf(image.dynamic.find(([t]) => t === 5n)?.[1] ?? 0n);
  if (strtabAt === undefined || strtabAt <= symtabAt)
    throw new ElfFormatError("no hash table and no string table after the symbol table");
  return Math.floor((strtabAt - symtabAt) / syment);
}

interface GnuHash {
  kind: "gnu";
  nbuckets: number;
  symoffset: number;
  bloomSize: number;
  bloomShift: number;
  bloom: Buffer;
  buckets: Buffer;
  chains: Buffer;
  symbolCount: number;
}

interface SysvHash {
  kind: "sysv";
  nbucket: number;
  buckets: Buffer;
  chains: Buffer;
  symbolCount: number;
}

async function readGnuHash(image: ElfImage, at: number): Promise<GnuHash> {
  const r = image.read;
  const head = await image.source.read(at, 16);
  const nbuckets = r.u32(head, 0);
  const symoffset = r.u32(head, 4);
  const bloomSize = r.u32(head, 8);
  const bloomShift = r.u32(head, 12);
  const word = image.info.bits === 64 ? 8 : 4;
  if (nbuckets === 0 || bloomSize === 0 || nbuckets > MAX_SYMBOLS || bloomSize > MAX_SYMBOLS)
    throw new ElfFormatError("DT_GNU_HASH header out of range");
  const bloom = await image.source.read(at + 16, bloomSize * word);
  const bucketsAt = at + 16 + bloomSize * word;
  const buckets = await image.source.read(bucketsAt, nbuckets * 4);
  // The chains run from symoffset to the last symbol: the end of the highest bucket's chain.
  let last = 0;
  for (let i = 0; i < nbuckets; i++) last = Math.max(last, r.u32(buckets, i * 4));
  const chainsAt = bucketsAt + nbuckets * 4;
  let symbolCount = symoffset;
  let chains = Buffer.alloc(0);
  if (last >= symoffset) {
    // Read the chain up to the highest bucket at once, then word by word to its end.
    const known = last - symoffset;
    const parts = [await image.source.read(chainsAt, known * 4)];
    for (let i = known; ; i++) {
      if (i - known > MAX_SYMBOLS) throw new ElfFormatError("DT_GNU_HASH chain does not end");
      const w = await image.source.read(chainsAt + i * 4, 4);
      parts.push(w);
      if (r.u32(w, 0) & 1) {
        symbolCount = symoffset + i + 1;
        break;
      }
    }
    chains = Buffer.concat(parts);
  }
  return { kind: "gnu", nbuckets, symoffset, bloomSize, bloomShift, bloom, buckets, chains, symbolCount };
}

async function readSysvHash(image: ElfImage, at: number): Promise<SysvHash> {
  const r = image.read;
  const head = await image.source.read(at, 8);
  const nbucket = r.u32(head, 0);
  const nchain = r.u32(head, 4);
  if (nbucket > MAX_SYMBOLS || nchain > MAX_SYMBOLS) throw new ElfFormatError("DT_HASH header out of range");
  const buckets = await image.source.read(at + 8, nbucket * 4);
  const chains = await image.source.read(at + 8 + nbucket * 4, nchain * 4);
  return { kind: "sysv", nbucket, buckets, chains, symbolCount: nchain };
}

/** A SymbolTable as plain data (SymbolTable.parts, SymbolTable.fromParts). */
export interface SymbolTableParts {
  le: boolean;
  bits: 32 | 64;
  strtab: Uint8Array;
  symtab: Uint8Array;
  syment: number;
  count: number;
  versym?: Uint8Array;
  versionNames: Map<number, { name: string; file?: string }>;
  hash?: GnuHash | SysvHash;
  bytes: number;
}

/** A Buffer over the bytes of a Uint8Array (what a Buffer becomes when posted to another thread). */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** glibc's dl_new_hash (DT_GNU_HASH) over a latin1 string's bytes. */
export function gnuHash(name: string): number {
  let h = 5381;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 33) + name.charCodeAt(i)) >>> 0;
  return h;
}

/** The System V ELF hash (DT_HASH). */
export function sysvHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    h = ((h << 4) + name.charCodeAt(i)) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
  }
  return h >>> 0;
}

function latin1CString(buf: Buffer, offset: number): string {
  if (offset >= buf.length) throw new ElfFormatError("string offset out of bounds");
  const end = buf.indexOf(0, offset);
  return buf.toString("latin1", offset, end === -1 ? buf.length : end);
}

/** Does the NUL-terminated string at `offset` equal `name` (latin1)? */
function sameName(buf: Buffer, offset: number, name: string): boolean {
  const n = name.length;
  if (offset + n >= buf.length) return false;
  for (let i = 0; i < n; i++) if (buf[offset + i] !== name.charCodeAt(i)) return false;
  return buf[offset + n] === 0;
}

/**
 * The defined dynamic symbols of one object, looked up by name and version as glibc's do_lookup_x
 * and check_match do (elf/dl-lookup.c): a definition has a value (or is absolute or TLS), a type
 * that is code or data, a global, weak or unique binding; a versioned reference takes the definition
 * of that version, or an unversioned one that is not hidden; an unversioned reference takes a
 * definition of the base version, or the one non-hidden versioned definition there is.
 */
export class SymbolTable {
  constructor(
    private readonly t: {
      read: ElfImage["read"];
      strtab: Buffer;
      symtab: Buffer;
      syment: number;
      sym: SymbolFields;
      count: number;
      versym?: Buffer;
      /** Version indexes → names (and, for a needed version, the library it is needed from). */
      versionNames: Map<number, { name: string; file?: string }>;
      hash?: GnuHash | SysvHash;
      bytes: number;
    },
  ) {}

  /** The tables as plain data, to be sent to another thread (fromParts makes the table again). */
  parts(): SymbolTableParts {
    const { read, strtab, symtab, syment, count, versym, versionNames, hash, bytes } = this.t;
    return { le: read.le, bits: read.bits, strtab, symtab, syment, count, versym, versionNames, hash, bytes };
  }

  /** The table of `parts()` (its buffers may have arrived from another thread as plain Uint8Arrays). */
  static fromParts(p: SymbolTableParts): SymbolTable {
    const read = reader(p.le, p.bits);
    const symtab = asBuffer(p.symtab);
    const h = p.hash;
    const hash: GnuHash | SysvHash | undefined =
      h?.kind === "gnu"
        ? { ...h, bloom: asBuffer(h.bloom), buckets: asBuffer(h.buckets), chains: asBuffer(h.chains) }
        : h?.kind === "sysv"
          ? { ...h, buckets: asBuffer(h.buckets), chains: asBuffer(h.chains) }
          : undefined;
    return new SymbolTable({
      read,
      strtab: asBuffer(p.strtab),
      symtab,
      syment: p.syment,
      sym: symbolReader(read, symtab, p.syment),
      count: p.count,
      versym: p.versym && asBuffer(p.versym),
      versionNames: p.versionNames,
      hash,
      bytes: p.bytes,
    });
  }

  /** The bytes of the tables it holds. */
  get bytes(): number {
    return this.t.bytes;
  }

  /** The object's undefined global and weak dynamic symbols, each with the version it is bound to. */
  undefinedSymbols(): UndefinedSymbol[] {
    const { sym, strtab, versym, read, count, versionNames } = this.t;
    const out: UndefinedSymbol[] = [];
    for (let i = 1; i < count; i++) {
      if (sym.shndx(i) !== SHN_UNDEF) continue;
      const bind = sym.bind(i);
      if (bind !== STB_GLOBAL && bind !== STB_WEAK) continue;
      const nameOff = sym.name(i);
      if (nameOff === 0) continue;
      const ref: UndefinedSymbol = {
        name: latin1CString(strtab, nameOff),
        weak: bind === STB_WEAK,
        type: sym.type(i),
      };
      const ndx = versym ? read.u16(versym, i * 2) & 0x7fff : 0;
      if (ndx > 1) {
        const v = versionNames.get(ndx);
        if (v) {
          ref.version = v.name;
          ref.file = v.file;
        }
      }
      out.push(ref);
    }
    return out;
  }

  /** Whether the object defines `name` in a way a reference of `version` (or none) binds to. */
  defines(name: string, version?: string): boolean {
    // no closure and no string per candidate: a scope's lookups call this millions of times
    let versionedMatches = 0;
    const h = this.t.hash;
    const r = this.t.read;
    if (!h) {
      for (let i = 1; i < this.t.count; i++) {
        const m = this.match(i, name, version);
        if (m === MATCH) return true;
        if (m === VERSIONED_MATCH) versionedMatches++;
      }
    } else if (h.kind === "sysv") {
      if (h.nbucket === 0) return false;
      let i = r.u32(h.buckets, (hashesOf(name).sysv % h.nbucket) * 4);
      for (let steps = 0; i !== 0 && i < h.symbolCount && steps <= h.symbolCount; steps++) {
        const m = this.match(i, name, version);
        if (m === MATCH) return true;
        if (m === VERSIONED_MATCH) versionedMatches++;
        i = r.u32(h.chains, i * 4);
      }
    } else {
      const hash = hashesOf(name).gnu;
      const bits = h.bloom.length / h.bloomSize === 8 ? 64 : 32;
      const wordAt = (Math.floor(hash / bits) % h.bloomSize) * (bits / 8);
      if (!bloomBit(h.bloom, r, bits, wordAt, hash % bits)) return false;
      if (!bloomBit(h.bloom, r, bits, wordAt, (hash >>> h.bloomShift) % bits)) return false;
      let i = r.u32(h.buckets, (hash % h.nbuckets) * 4);
      if (i === 0 || i < h.symoffset) return false;
      for (; i < h.symbolCount; i++) {
        const chainHash = r.u32(h.chains, (i - h.symoffset) * 4);
        if ((chainHash | 1) === (hash | 1)) {
          const m = this.match(i, name, version);
          if (m === MATCH) return true;
          if (m === VERSIONED_MATCH) versionedMatches++;
        }
        if (chainHash & 1) break;
      }
    }
    return version === undefined && versionedMatches === 1;
  }

  /** Does symbol `i` define `name` for a reference of `version`, as check_match decides? */
  private match(i: number, name: string, version: string | undefined): Match {
    const { sym, strtab, versym, read } = this.t;
    if (sym.shndx(i) === SHN_UNDEF) return NO_MATCH;
    const info = sym.info(i);
    const bind = info >> 4;
    if (bind !== STB_GLOBAL && bind !== STB_WEAK && bind !== STB_GNU_UNIQUE) return NO_MATCH;
    const type = info & 0xf;
    if (((1 << type) & DEFINITION_TYPES) === 0) return NO_MATCH;
    if (sym.valueIsZero(i) && sym.shndx(i) !== SHN_ABS && type !== STT_TLS) return NO_MATCH;
    if (!sameName(strtab, sym.name(i), name)) return NO_MATCH;
    if (!versym) return MATCH;
    const raw = read.u16(versym, i * 2);
    const ndx = raw & 0x7fff;
    const hidden = (raw & VERSYM_HIDDEN) !== 0;
    if (version !== undefined) {
      if (this.t.versionNames.get(ndx)?.name === version) return MATCH;
      // an unversioned (index 0 or 1), visible definition satisfies a versioned reference
      return ndx <= 1 && !hidden ? MATCH : NO_MATCH;
    }
    if (ndx < 3) return MATCH;
    // a versioned definition satisfies an unversioned reference only when it is the only one
    return hidden ? NO_MATCH : VERSIONED_MATCH;
  }
}

const NO_MATCH = 0;
const MATCH = 1;
/** Defines the name in a version that is not hidden: a match only if it is the only one. */
const VERSIONED_MATCH = 2;
type Match = typeof NO_MATCH | typeof MATCH | typeof VERSIONED_MATCH;

/** Bit `n` of the bloom word at `wordAt` (a 64-bit word read as two 32-bit halves, in the file's byte order). */
function bloomBit(bloom: Buffer, r: ElfImage["read"], bits: number, wordAt: number, n: number): boolean {
  const half = bits === 64 && n >= 32 ? 1 : 0;
  const byteOff = bits === 64 ? wordAt + (r.le ? half * 4 : (1 - half) * 4) : wordAt;
  return ((r.u32(bloom, byteOff) >>> (n % 32)) & 1) === 1;
}

/** The hashes of the name last looked up: a lookup asks every table of a scope for the same name. */
let hashedName: string | undefined;
const hashed = { gnu: 0, sysv: 0 };
function hashesOf(name: string): { gnu: number; sysv: number } {
  if (name !== hashedName) {
    hashed.gnu = gnuHash(name);
    hashed.sysv = sysvHash(name);
    hashedName = name;
  }
  return hashed;
}
