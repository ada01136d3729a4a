/**
 * A realistic installed-package database for the audit benchmark and the glsa-check parity
 * test: about 70 % of the packages are ones GLSAs name, installed at versions around the
 * advisories' boundaries (exactly at a bound, just below, just above, other revisions of a
 * bound, other slots); the rest are packages no GLSA names. Each vdb entry has the files
 * Portage writes (SLOT with sub-slots, repository, EAPI, USE, IUSE, KEYWORDS, BUILD_TIME,
 * COUNTER, CATEGORY, PF, CONTENTS). Deterministic for a given seed.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseCpv } from "../src/gentoo/cpv.js";
import { type GlsaVersionRange, parseGlsa } from "../src/gentoo/glsa/parse.js";
import { parseVersion } from "../src/gentoo/version.js";

export interface GeneratedVardb {
  prefix: string;
  packages: { cpv: string; slot: string }[];
}

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Versions near a bound: the bound, a revision of it, one step below and above. */
function around(r: GlsaVersionRange, pick: <T>(xs: T[]) => T): string | undefined {
  const v = parseVersion(r.version.replace(/\*$/, ""));
  if (!v) return undefined;
  const base = r.version.replace(/\*$/, "").replace(/-r\d+$/, "");
  const parts = v.components.map((c) => BigInt(c));
  const last = parts.length - 1;
  const bump = (d: bigint) => {
    const p = [...parts];
    p[last] = p[last]! + d < 0n ? 0n : p[last]! + d;
    return p.join(".") + v.letter + v.suffixes.map((s) => `_${s.kind}${s.number}`).join("");
  };
  const rev = v.revision === "" ? 0 : Number(v.revision);
  return pick([
    r.version.replace(/\*$/, ""),
    `${base}-r${rev + 1}`,
    rev > 0 ? `${base}-r${rev - 1}` : base,
    bump(-1n),
    bump(1n),
    bump(1n),
  ]);
}

const USE = "abi_x86_64 amd64 elibc_glibc kernel_linux prefix prefix-guest userland_GNU";
const KEYWORDS = "~alpha amd64 arm arm64 hppa ~loong ppc ppc64 ~riscv sparc x86 ~amd64-linux ~x64-macos";

export function generateVardb(prefix: string, glsaDir: string, count = 1000, seed = 2023): GeneratedVardb {
  const random = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  // what GLSAs say about each package
  const ranges = new Map<string, GlsaVersionRange[]>();
  for (const f of readdirSync(glsaDir)
    .filter((n) => /^glsa-.*\.xml$/.test(n))
    .sort()) {
    let glsa: ReturnType<typeof parseGlsa>;
    try {
      glsa = parseGlsa(readFileSync(join(glsaDir, f), "utf8"));
    } catch {
      continue;
    }
    for (const p of glsa.packages)
      ranges.set(p.name, [...(ranges.get(p.name) ?? []), ...p.vulnerable, ...p.unaffected]);
  }
  const names = [...ranges.keys()].sort();
  const chosen = new Map<string, { version: string; slot: string }>();
  const target = Math.round(count * 0.7);
  while (chosen.size < target && chosen.size < names.length) {
    const cp = pick(names);
    const r = pick(ranges.get(cp)!);
    const version = around(r, pick);
    if (!version || !parseCpv(`${cp}-${version}`)) continue;
    let slot = r.slot ?? pick(["0", "0", "0", "0/1", "0/2", "1"]);
    if (r.slot && random() < 0.15) slot = `${r.slot}x`; // another slot than the advisory's
    const key = `${cp}-${version}`;
    if (!chosen.has(key)) chosen.set(key, { version, slot });
  }
  for (let i = 0; chosen.size < count; i++)
    chosen.set(`app-misc/compat-bench-p${i}-1.${i % 7}`, { version: `1.${i % 7}`, slot: "0" });

  const packages: GeneratedVardb["packages"] = [];
  let counter = 1000;
  for (const [cpv, { slot }] of [...chosen].sort()) {
    const split = parseCpv(cpv)!;
    const dir = join(prefix, "var/db/pkg", split.category, cpv.slice(split.category.length + 1));
    mkdirSync(dir, { recursive: true });
    const files: Record<string, string> = {
      CATEGORY: split.category,
      PF: cpv.slice(split.category.length + 1),
      SLOT: slot,
      repository: random() < 0.05 ? "eessi" : "gentoo",
      EAPI: pick(["7", "8", "8"]),
      USE,
      IUSE: "doc test static-libs",
      KEYWORDS,
      BUILD_TIME: String(1700000000 + Math.floor(random() * 5e7)),
      COUNTER: String(counter++),
      CONTENTS: [
        `dir ${prefix}/usr`,
        `dir ${prefix}/usr/share/doc/${split.name}`,
        `obj ${prefix}/usr/share/doc/${split.name}/README 0123456789abcdef0123456789abcdef 1700000000`,
      ].join("\n"),
    };
    for (const [name, value] of Object.entries(files)) writeFileSync(join(dir, name), `${value}\n`);
    packages.push({ cpv, slot });
  }
  return { prefix, packages };
}
