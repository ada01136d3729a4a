/**
 * PMS versions (names.tex §3.2) and their order, as Portage's `vercmp` computes it
 * (portage lib/portage/versions.py). Numeric parts are compared exactly (BigInt past 15 digits): real and test
 * versions have 30- and 100-digit components. Versions are never compared as strings:
 * `1.0`, `1.00` and `1.0-r0` are equal; `1.010` equals `1.01`.
 */
import { memoize } from "./memo.js";

/** The version grammar of Portage's `ver_regexp`: `1.2.3b_rc4_p5-r6`. */
export const VERSION_SOURCE = String.raw`(\d+)((?:\.\d+)*)([a-z]?)((?:_(?:pre|p|beta|alpha|rc)\d*)*)`;
const VERSION_RE = new RegExp(`^${VERSION_SOURCE}(?:-r(\\d+))?$`);

export const SUFFIX_ORDER = { alpha: -4, beta: -3, pre: -2, rc: -1, p: 0 } as const;
export type SuffixKind = keyof typeof SUFFIX_ORDER;

export interface VersionSuffix {
  kind: SuffixKind;
  /** The number after the suffix as written; "" when absent (counts as 0). */
  number: string;
}

export interface Version {
  /** The text as given, e.g. `1.2.3b_rc4-r1`. */
  text: string;
  /** Numeric components as written (leading zeros kept: they change the comparison). */
  components: string[];
  letter: string;
  suffixes: VersionSuffix[];
  /** The revision number as written, "" when there is none (`-r0`, `-r00` and none are equal). */
  revision: string;
}

const SUFFIX_RE = /_(pre|p|beta|alpha|rc)(\d*)/g;

/** Parse a PMS version (with optional `-rN`); undefined when it is not one. The result is shared: do not change it. */
export const parseVersion: (text: string) => Version | undefined = memoize(parseVersionUncached);

function parseVersionUncached(text: string): Version | undefined {
  const m = VERSION_RE.exec(text);
  if (!m) return undefined;
  const components = [m[1]!];
  if (m[2]) components.push(...m[2].slice(1).split("."));
  const suffixes: VersionSuffix[] = [];
  for (const s of (m[4] ?? "").matchAll(SUFFIX_RE))
    suffixes.push({ kind: s[1] as SuffixKind, number: s[2] ?? "" });
  return { text, components, letter: m[3] ?? "", suffixes, revision: m[5] ?? "" };
}

/** True when `text` is a valid PMS version (Portage's `ververify`). */
export function isValidVersion(text: string): boolean {
  return VERSION_RE.test(text);
}

const sign = (a: bigint | number, b: bigint | number): -1 | 0 | 1 => (a > b ? 1 : a < b ? -1 : 0);
const num = (digits: string): bigint => (digits === "" ? 0n : BigInt(digits));

/** Compare two digit strings as integers: as doubles while exact (≤ 15 digits), else as BigInt. */
function compareDigits(x: string, y: string): -1 | 0 | 1 {
  if (x.length <= 15 && y.length <= 15) return sign(Number(x), Number(y));
  return sign(BigInt(x), BigInt(y));
}

/**
 * Compare two versions: negative, zero or positive like Portage's vercmp. Throws on a string
 * that is not a version (Portage returns None there; a caller that wants that uses
 * `compareVersionsOrUndefined`).
 */
export function vercmp(a: string | Version, b: string | Version): -1 | 0 | 1 {
  const r = compareVersionsOrUndefined(a, b);
  if (r === undefined)
    throw new Error(
      `not a version: ${JSON.stringify(typeof a === "string" ? a : a.text)} or ${JSON.stringify(typeof b === "string" ? b : b.text)}`,
    );
  return r;
}

export function compareVersionsOrUndefined(a: string | Version, b: string | Version): -1 | 0 | 1 | undefined {
  const va = typeof a === "string" ? parseVersion(a) : a;
  const vb = typeof b === "string" ? parseVersion(b) : b;
  if (!va || !vb) return undefined;
  if (va.text === vb.text) return 0;
  return compareParsed(va, vb);
}

function compareParsed(a: Version, b: Version): -1 | 0 | 1 {
  // Numeric components. The first is an integer; a later pair where either side has a
  // leading zero is compared as a decimal fraction (Portage right-pads both with zeros).
  const n = Math.max(a.components.length, b.components.length);
  for (let i = 0; i < n; i++) {
    const x = a.components[i];
    const y = b.components[i];
    if (x === undefined) return -1; // the shorter list is smaller once the common part is equal
    if (y === undefined) return 1;
    let r: -1 | 0 | 1;
    if (i > 0 && (x[0] === "0" || y[0] === "0")) {
      const w = Math.max(x.length, y.length);
      r = compareDigits(x.padEnd(w, "0"), y.padEnd(w, "0"));
    } else {
      r = compareDigits(x, y);
    }
    if (r !== 0) return r;
  }
  // The letter is one more list element in Portage: absent < a < … < z, and a missing
  // element (no letter) sorts first.
  if (a.letter !== b.letter) {
    if (!a.letter) return -1;
    if (!b.letter) return 1;
    return a.letter < b.letter ? -1 : 1;
  }
  // Suffixes pairwise; a missing one counts as `_p` with value -1, so `1 < 1_p0` and `1_alpha < 1`.
  const m = Math.max(a.suffixes.length, b.suffixes.length);
  for (let i = 0; i < m; i++) {
    const s = a.suffixes[i];
    const t = b.suffixes[i];
    const ka = s ? SUFFIX_ORDER[s.kind] : SUFFIX_ORDER.p;
    const kb = t ? SUFFIX_ORDER[t.kind] : SUFFIX_ORDER.p;
    if (ka !== kb) return ka > kb ? 1 : -1;
    const na = s ? num(s.number) : -1n;
    const nb = t ? num(t.number) : -1n;
    const r = sign(na, nb);
    if (r !== 0) return r;
  }
  return sign(num(a.revision), num(b.revision));
}

/** The version without its revision (`1.2-r3` → `1.2`). */
export function versionWithoutRevision(v: Version): string {
  return v.revision === "" ? v.text : v.text.slice(0, v.text.length - v.revision.length - 2);
}
