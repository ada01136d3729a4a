import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NotRegularFileError, readElf } from "./elf.js";
import { gnuHash, readElfAbi, sysvHash } from "./elf-symbols.js";

const hasTools = (() => {
  try {
    execFileSync("readelf", ["--version"]);
    execFileSync("gcc", ["--version"]);
    return true;
  } catch {
    return false;
  }
})();

interface ReadelfSymbol {
  name: string;
  version?: string;
  /** `@@`: the default version. */
  default: boolean;
  bind: string;
  type: string;
  ndx: string;
}

/** binutils' readelf --dyn-syms, the reference for our reader. */
function readelfSymbols(path: string): ReadelfSymbol[] {
  const out = execFileSync("readelf", ["--dyn-syms", "-W", path], { encoding: "utf8", maxBuffer: 1 << 28 });
  const syms: ReadelfSymbol[] = [];
  for (const line of out.split("\n")) {
    const m = /^\s*\d+: \S+\s+\S+ (\S+)\s+(\S+)\s+\S+\s+(\S+) (\S+?)(?: \(\d+\))?$/.exec(line);
    if (!m) continue;
    const [, type, bind, ndx, full] = m as unknown as [string, string, string, string, string];
    const at = full.indexOf("@");
    syms.push({
      name: at < 0 ? full : full.slice(0, at),
      version: at < 0 ? undefined : full.slice(full.lastIndexOf("@") + 1),
      default: full.includes("@@"),
      bind,
      type,
      ndx,
    });
  }
  return syms;
}

/** readelf -V: the version needs, file by file. */
function readelfNeeds(path: string): { file: string; versions: { name: string; weak: boolean }[] }[] {
  const out = execFileSync("readelf", ["-V", "-W", path], { encoding: "utf8" });
  const section = out.split("Version needs section")[1] ?? "";
  const needs: { file: string; versions: { name: string; weak: boolean }[] }[] = [];
  for (const line of section.split("\n")) {
    const file = /File: (\S+)/.exec(line);
    if (file) needs.push({ file: file[1]!, versions: [] });
    const v = /Name: (\S+)\s+Flags: (\S+)/.exec(line);
    if (v && needs.length > 0) needs.at(-1)!.versions.push({ name: v[1]!, weak: v[2]!.includes("WEAK") });
  }
  return needs;
}

const hostLibc = () =>
  execFileSync("sh", ["-c", "ldd /bin/ls | awk '/libc.so.6/ {print $3}'"], { encoding: "utf8" }).trim();

const dir = mkdtempSync(join(tmpdir(), "elf-symbols-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small versioned library, linked with the given hash style. */
function versionedLibrary(hashStyle: "gnu" | "sysv"): string {
  const src = join(dir, "v.c");
  const map = join(dir, "v.map");
  writeFileSync(
    src,
    [
      "int old_api(void) { return 1; }",
      "int new_api(void) { return 2; }",
      "int data_item = 3;",
      '__asm__(".symver old_compat, compat_api@V_1");',
      "int old_compat(void) { return 4; }",
      '__asm__(".symver new_compat, compat_api@@V_2");',
      "int new_compat(void) { return 5; }",
    ].join("\n"),
  );
  writeFileSync(
    map,
    "V_1 { global: old_api; data_item; compat_api; local: *; };\nV_2 { global: new_api; compat_api; } V_1;\n",
  );
  const out = join(dir, `libv-${hashStyle}.so`);
  execFileSync("gcc", [
    "-shared",
    "-fPIC",
    "-o",
    out,
    src,
    `-Wl,--version-script=${map}`,
    `-Wl,--hash-style=${hashStyle}`,
    "-Wl,-soname,libv.so.1",
  ]);
  return out;
}

describe.runIf(hasTools)("readElfAbi agrees with readelf", () => {
  const objects = ["/usr/bin/python3", "/usr/bin/perl", "/bin/ls", "/usr/bin/patchelf"];

  it("on the undefined symbols and the versions they are bound to", async () => {
    for (const p of [...objects, hostLibc()]) {
      const abi = await readElfAbi(p);
      const want = readelfSymbols(p)
        .filter((s) => s.ndx === "UND" && (s.bind === "GLOBAL" || s.bind === "WEAK") && s.name !== "")
        .map((s) => ({ name: s.name, version: s.version, weak: s.bind === "WEAK" }));
      expect(
        abi!.undefined.map((s) => ({ name: s.name, version: s.version, weak: s.weak })),
        p,
      ).toEqual(want);
    }
  });

  it("on the version needs (VERNEED) and definitions (VERDEF)", async () => {
    for (const p of [...objects, hostLibc()]) {
      const abi = await readElfAbi(p);
      expect(abi!.needs, p).toEqual(readelfNeeds(p));
    }
    const libc = await readElfAbi(hostLibc());
    expect(libc!.defines).toContain("GLIBC_2.34");
    expect(libc!.defines).toContain("GLIBC_2.2.5");
    expect(libc!.defines).not.toContain("libc.so.6"); // the base entry is the file, not a version
    expect((await readElfAbi("/usr/bin/python3"))!.defines).toBeUndefined();
  });

  it("finds every symbol libc defines, in its version, through the hash table", async () => {
    const libc = hostLibc();
    const abi = await readElfAbi(libc);
    const defined = readelfSymbols(libc).filter(
      (s) => s.ndx !== "UND" && s.bind !== "LOCAL" && ["FUNC", "OBJECT", "TLS", "IFUNC"].includes(s.type),
    );
    expect(defined.length).toBeGreaterThan(2000);
    for (const s of defined)
      expect(abi!.symbols!.defines(s.name, s.version), `${s.name}@${s.version}`).toBe(true);
    expect(abi!.symbols!.defines("malloc")).toBe(true);
    expect(abi!.symbols!.defines("malloc", "GLIBC_9.99")).toBe(false);
    expect(abi!.symbols!.defines("no_such_symbol_anywhere")).toBe(false);
    expect(abi!.symbols!.defines("no_such_symbol_anywhere", "GLIBC_2.2.5")).toBe(false);
  });

  it.each(["gnu", "sysv"] as const)(
    "looks up versioned symbols of a %s-hash library as the loader binds them",
    async (style) => {
      const lib = versionedLibrary(style);
      const abi = await readElfAbi(lib);
      const t = abi!.symbols!;
      expect(abi!.defines).toEqual(["V_1", "V_2"]);
      expect(t.defines("old_api", "V_1")).toBe(true);
      expect(t.defines("old_api", "V_2")).toBe(false);
      expect(t.defines("new_api", "V_2")).toBe(true);
      expect(t.defines("new_api", "V_1")).toBe(false);
      expect(t.defines("data_item", "V_1")).toBe(true);
      // compat_api@V_1 (hidden) and compat_api@@V_2 (default): both versions bind; unversioned takes the default
      expect(t.defines("compat_api", "V_1")).toBe(true);
      expect(t.defines("compat_api", "V_2")).toBe(true);
      expect(t.defines("compat_api")).toBe(true);
      expect(t.defines("compat_api", "V_3")).toBe(false);
      // not exported (local: *)
      expect(t.defines("old_compat")).toBe(false);
      expect(t.defines("new_compat")).toBe(false);
    },
  );

  it("gives the same digest for the same file and another for a changed dynamic interface", async () => {
    const a = await readElfAbi("/usr/bin/patchelf");
    const copy = join(dir, "patchelf");
    writeFileSync(copy, readFileSync("/usr/bin/patchelf"));
    expect((await readElfAbi(copy))!.digest).toBe(a!.digest);
    execFileSync("patchelf", ["--set-rpath", "/elsewhere", copy]);
    expect((await readElfAbi(copy))!.digest).not.toBe(a!.digest);
  });

  it("returns undefined for truncated and corrupt objects, never throws", async () => {
    const libc = readFileSync(hostLibc());
    for (const cut of [64, 4096, 100_000, libc.length >> 1]) {
      const p = join(dir, `cut-${cut}.so`);
      writeFileSync(p, libc.subarray(0, cut));
      const abi = await readElfAbi(p);
      // whatever survives the cut is read consistently, or the object is refused
      if (abi) expect(Array.isArray(abi.undefined)).toBe(true);
    }
    // scrambled dynamic data (string, symbol, version and hash tables): read or refused, never a crash
    const original = readFileSync("/usr/bin/patchelf");
    for (let seed = 1; seed <= 20; seed++) {
      const corrupt = Buffer.from(original);
      for (let o = 0x300 + seed; o < Math.min(corrupt.length, 0x6000); o += 5 + seed)
        corrupt[o] = (o * seed) & 0xff;
      const p = join(dir, `corrupt-${seed}`);
      writeFileSync(p, corrupt);
      const abi = await readElfAbi(p);
      if (abi) abi.symbols?.defines("malloc", "GLIBC_2.2.5");
    }
  });
});

/** A 64-bit little-endian ELF file's program headers and dynamic entries, to aim corruptions at them. */
function layout(buf: Buffer) {
  const phoff = Number(buf.readBigUInt64LE(32));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  const phdrs = Array.from({ length: phnum }, (_, i) => {
    const at = phoff + i * phentsize;
    return { at, type: buf.readUInt32LE(at), offset: Number(buf.readBigUInt64LE(at + 8)) };
  });
  const dyn = phdrs.find((p) => p.type === 2)!;
  const dynamic = new Map<bigint, number>();
  for (let o = dyn.offset; ; o += 16) {
    const tag = buf.readBigInt64LE(o);
    if (tag === 0n) break;
    if (!dynamic.has(tag)) dynamic.set(tag, o + 8);
  }
  return { phdrs, dynamic };
}

describe("hostile ELF files", () => {
  /** Every way the reader may answer: an ABI, undefined (not ELF / malformed), or not a regular file. */
  async function answer(path: string): Promise<string> {
    const started = Date.now();
    try {
      const abi = await readElfAbi(path);
      abi?.symbols?.defines("malloc", "GLIBC_2.2.5");
      return abi ? "read" : "refused";
    } catch (e) {
      if (e instanceof NotRegularFileError) return "not a regular file";
      throw e;
    } finally {
      // none of these may take long (no huge allocation, no endless chain, no blocking open)
      expect(Date.now() - started).toBeLessThan(10_000);
    }
  }

  const original = readFileSync("/usr/bin/patchelf");
  const { phdrs, dynamic } = layout(original);
  const mutate = (name: string, edit: (b: Buffer) => void) => {
    const b = Buffer.from(original);
    edit(b);
    const p = join(dir, name);
    writeFileSync(p, b);
    return p;
  };
  const u64 = (at: number, v: bigint) => (b: Buffer) => b.writeBigUInt64LE(v, at);
  const interp = phdrs.find((p) => p.type === 3)!;
  const dynPh = phdrs.find((p) => p.type === 2)!;

  it.each([
    ["e_phentsize 0", (b: Buffer) => b.writeUInt16LE(0, 54)],
    ["e_phentsize 1", (b: Buffer) => b.writeUInt16LE(1, 54)],
    ["e_phnum 65535", (b: Buffer) => b.writeUInt16LE(65535, 56)],
    ["e_phoff past the end", u64(32, 1n << 62n)],
    ["e_phoff beyond 2^53", u64(32, (1n << 60n) + 3n)],
    ["PT_INTERP of 2^63 bytes", u64(interp.at + 32, 1n << 63n)],
    ["PT_INTERP of 1 MiB", u64(interp.at + 32, 1n << 20n)],
    ["PT_DYNAMIC of 2^40 bytes", u64(dynPh.at + 32, 1n << 40n)],
    ["PT_DYNAMIC at 2^64-16", u64(dynPh.at + 8, (1n << 64n) - 16n)],
    ["DT_STRSZ 2^62", u64(dynamic.get(10n)!, 1n << 62n)],
    ["DT_STRTAB outside every segment", u64(dynamic.get(5n)!, 1n << 50n)],
    ["DT_NEEDED past the string table", u64(dynamic.get(1n)!, 1n << 40n)],
    ["DT_VERNEEDNUM 2^32", u64(dynamic.get(0x6fffffffn)!, 1n << 32n)],
    ["DT_VERNEED outside the file", u64(dynamic.get(0x6ffffffen)!, 1n << 45n)],
    ["DT_SYMENT 7", (b: Buffer) => b.writeBigInt64LE(11n, dynamic.get(0x6ffffef5n)! - 8)],
    ["DT_GNU_HASH pointing at the ELF header", u64(dynamic.get(0x6ffffef5n)!, 0n)],
    ["DT_VERSYM outside the file", u64(dynamic.get(0x6ffffff0n)!, (1n << 64n) - 1n)],
  ])("%s: refused, never a crash, a hang or a partial read", async (name, edit) => {
    expect(await answer(mutate(name.replace(/\W+/g, "-"), edit))).toBe("refused");
  });

  it("a table larger than any real object's is refused without reading it (a sparse 300 MiB file)", async () => {
    const p = join(dir, "huge-strtab");
    const b = Buffer.from(original);
    // DT_STRSZ 280 MiB: in bounds of the (sparse) file, far beyond any real .dynstr
    b.writeBigUInt64LE(BigInt(280 << 20), dynamic.get(10n)!);
    writeFileSync(p, b);
    execFileSync("truncate", ["-s", String(300 << 20), p]);
    expect(await answer(p)).toBe("refused");
  });

  it("a VERNEED chain that points back at itself ends", async () => {
    const p = mutate("verneed-cycle", (b) => {
      const vaddr = b.readBigUInt64LE(dynamic.get(0x6ffffffen)!);
      // the first Elf64_Verneed's vn_next (offset 12) is 0: the entry follows itself
      const off = Number(vaddr); // patchelf's first segment maps vaddr = offset
      b.writeUInt32LE(0, off + 12);
      b.writeBigUInt64LE(65_535n, dynamic.get(0x6fffffffn)!);
    });
    expect(["read", "refused"]).toContain(await answer(p));
  });

  it("seeded random corruption of the first 64 KiB (bytes, words and offsets): read or refused", async () => {
    let state = 0x2545f491;
    const rand = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 2 ** 32;
    };
    const answers = new Map<string, number>();
    for (let i = 0; i < 150; i++) {
      const p = mutate(`random-${i}`, (b) => {
        const end = Math.min(b.length - 8, 0x10000);
        for (let k = 0; k < 1 + Math.floor(rand() * 6); k++) {
          const at = Math.floor(rand() * end);
          const r = rand();
          if (r < 0.4) b[at] = Math.floor(rand() * 256);
          else if (r < 0.7) b.writeUInt32LE(Math.floor(rand() * 2 ** 32), at);
          else
            b.writeBigUInt64LE(BigInt(Math.floor(rand() * 2 ** 52)) << BigInt(Math.floor(rand() * 12)), at);
        }
        if (rand() < 0.2) b.fill(0, Math.floor(rand() * b.length));
      });
      const a = await answer(p);
      answers.set(a, (answers.get(a) ?? 0) + 1);
    }
    expect([...answers.keys()].sort()).toEqual(expect.arrayContaining(["read"]));
    expect([...answers.keys()].every((a) => a === "read" || a === "refused")).toBe(true);
  });

  it("a FIFO, a directory and a device are not regular files: refused at once, never opened blocking", async () => {
    const fifo = join(dir, "libfifo.so");
    execFileSync("mkfifo", [fifo]);
    const sub = join(dir, "libdir.so");
    mkdirSync(sub);
    const dev = join(dir, "libzero.so");
    symlinkSync("/dev/zero", dev);
    for (const p of [fifo, sub, dev]) {
      expect(await answer(p)).toBe("not a regular file");
      expect(await readElf(p)).toBeUndefined();
    }
  });
});

describe("hash functions", () => {
  it("match the ELF and GNU definitions", () => {
    // values from the System V ABI and glibc's dl-hash tests
    expect(gnuHash("")).toBe(5381);
    expect(gnuHash("printf")).toBe(0x156b2bb8);
    expect(gnuHash("exit")).toBe(0x7c967e3f);
    expect(sysvHash("")).toBe(0);
    expect(sysvHash("printf")).toBe(0x077905a6);
    expect(sysvHash("exit")).toBe(0x0006cf04);
  });
});
