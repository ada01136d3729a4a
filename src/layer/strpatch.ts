/**
 * Same-length string patches in binaries (relocation.md §6.1–2): a path compiled into ld.so or libc
 * cannot be pointed into the (longer) prefix, but it can be *disabled* by replacing it with a dummy
 * of exactly the same length that exists nowhere, e.g. /etc/ld.so.cache → /.no-ld.so.cache.
 *
 *   const r = patchStrings(buf, [{ from: "/etc/ld.so.cache", to: sameLengthDummy("/etc/ld.so.cache") }]);
 *   r.counts → { "/etc/ld.so.cache": 1 }
 *
 * Only whole strings are replaced: `from` followed by NUL and preceded by NUL or a byte that is not
 * printable ASCII (the start of a string in .rodata), so "/lib/" inside "/usr/lib/" or a longer path
 * is never touched. Every replacement must be found at least once (or exactly `count` times when
 * given), else nothing is written and a ValidationError names the file, the string and the count:
 * the patches depend on the exact binary and must be re-checked when glibc changes. A string whose
 * dummy is there and that is itself gone counts as already patched, so a stage can run again.
 */
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { ValidationError } from "../errors.js";

export interface StringPatch {
  from: string;
  to: string;
  /** Exact number of occurrences expected; default: at least one. */
  count?: number;
}

export interface StringPatchResult {
  buffer: Buffer;
  /** Occurrences replaced (or found already replaced), per `from`. */
  counts: Record<string, number>;
  /** The `from` strings that were already replaced by their dummy. */
  alreadyPatched: string[];
}

const isPrintable = (b: number) => b >= 0x20 && b <= 0x7e;

/** A path of the same length as `path` that exists nowhere: `/.no-` + the end of the path, keeping a trailing `/`. */
export function sameLengthDummy(path: string): string {
  const n = path.length;
  if (n < 4) throw new Error(`cannot make a same-length dummy for ${JSON.stringify(path)}: too short`);
  if (n <= 5) return `/.${"n".repeat(n - 3)}${path.endsWith("/") ? "/" : "n"}`;
  return `/.no-${path.slice(5 - n)}`;
}

/** Offsets of whole-string occurrences of `s` in `buf`. */
export function findWholeStrings(buf: Buffer, s: string): number[] {
  const needle = Buffer.concat([Buffer.from(s, "latin1"), Buffer.from([0])]);
  const out: number[] = [];
  for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle, i + 1)) {
    if (i === 0 || buf[i - 1] === 0 || !isPrintable(buf[i - 1]!)) out.push(i);
  }
  return out;
}

/** Apply the patches to a copy of `buf`. Throws ValidationError (nothing changed) when a count is off. */
export function patchStrings(
  buf: Buffer,
  patches: readonly StringPatch[],
  what = "binary",
): StringPatchResult {
  const out = Buffer.from(buf);
  const counts: Record<string, number> = {};
  const alreadyPatched: string[] = [];
  const problems: string[] = [];
  // All offsets are found in the original, so one patch never creates or hides a match for another.
  const plan = patches.map((p) => {
    if (p.to.length !== p.from.length || Buffer.byteLength(p.to) !== Buffer.byteLength(p.from))
      throw new Error(`patch ${p.from} → ${p.to}: not the same length`);
    const at = findWholeStrings(buf, p.from);
    const expected = (n: number) => (p.count === undefined ? n > 0 : n === p.count);
    if (at.length === 0) {
      const done = findWholeStrings(buf, p.to).length;
      if (expected(done)) {
        counts[p.from] = done;
        alreadyPatched.push(p.from);
        return { p, at };
      }
    }
    counts[p.from] = at.length;
    if (!expected(at.length))
      problems.push(`${p.from}: found ${at.length} time(s), expected ${p.count ?? "at least 1"}`);
    return { p, at };
  });
  if (problems.length)
    throw new ValidationError(`${what}: refusing to patch, the strings are not as expected`, {
      details: problems,
      hint: "this glibc differs from the one the patches were made for; check the strings (strings -a) and update the patch table",
    });
  for (const { p, at } of plan) for (const i of at) out.write(p.to, i, "latin1");
  return { buffer: out, counts, alreadyPatched };
}

/** Patch a file: written aside and renamed over it (an interruption leaves the old or the new file), mode kept. */
export async function patchFileStrings(
  file: string,
  patches: readonly StringPatch[],
): Promise<StringPatchResult> {
  const r = patchStrings(await readFile(file), patches, file);
  if (r.alreadyPatched.length === patches.length) return r;
  const tmp = `${file}.compat-patch`;
  await writeFile(tmp, r.buffer, { mode: (await stat(file)).mode & 0o7777 });
  await rename(tmp, file);
  return r;
}
