/**
 * Cut Debian's glibc off from the host (relocation.md §6.1–2) with same-length string patches:
 * - ld.so: /etc/ld.so.cache, /etc/ld.so.preload and the system library directories become dummies,
 *   so a library missing from the prefix is never taken from the host (ld.so keeps a length table
 *   for the system directories, hence same-length dummies);
 * - libc: the gconv directory and its cache, the locale directory and archive, and /usr/share/locale
 *   become dummies, so GCONV_PATH and LOCPATH (set by startprefix) are the only places glibc looks
 *   (without the patch it appends the host's directories to both).
 *
 *   const r = await disableHostPaths(treeDir, "x86_64-linux-gnu");
 *   r.files → [{ file: "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", counts: { "/etc/ld.so.cache": 1, … } }, …]
 *
 * Refuses (ValidationError, nothing written) when a string is missing: see strpatch.ts.
 */
import { realpath } from "node:fs/promises";
import { join, relative } from "node:path";
import { InputError } from "../errors.js";
import { readElf } from "../layer/elf.js";
import { patchFileStrings, type StringPatch, sameLengthDummy } from "../layer/strpatch.js";
import { relativeInside, safeName } from "../paths/rules.js";

const dummy = (from: string, count?: number): StringPatch => ({
  from,
  to: sameLengthDummy(from),
  ...(count === undefined ? {} : { count }),
});

/** The strings patched in ld.so for a multiarch triplet (e.g. x86_64-linux-gnu). */
export function loaderPatches(triplet: string): StringPatch[] {
  return [
    dummy("/etc/ld.so.cache", 1),
    dummy("/etc/ld.so.preload", 1),
    dummy(`/lib/${triplet}/`),
    dummy(`/usr/lib/${triplet}/`),
    dummy("/lib/"),
    dummy("/usr/lib/"),
  ];
}

/** The strings patched in libc.so.6. */
export function libcPatches(triplet: string): StringPatch[] {
  return [
    dummy(`/usr/lib/${triplet}/gconv`),
    dummy(`/usr/lib/${triplet}/gconv/gconv-modules.cache`),
    dummy("/usr/lib/locale"),
    dummy("/usr/lib/locale/locale-archive"),
    dummy("/usr/share/locale"),
  ];
}

export interface PatchedFile {
  /** Relative to the tree. */
  file: string;
  /** Whole-string occurrences of each host path that are now dummies. */
  counts: Record<string, number>;
  alreadyPatched: string[];
}

export interface HostPathsReport {
  files: PatchedFile[];
}

/** Patch the tree's ld.so and libc.so.6 (found through usr/lib/<triplet> and libc's PT_INTERP). */
export async function disableHostPaths(treeDir: string, triplet: string): Promise<HostPathsReport> {
  const libc = join(treeDir, "usr/lib", triplet, "libc.so.6");
  const info = await readElf(libc);
  if (!info?.interpreter)
    throw new InputError(`${libc}: not a glibc libc.so.6 with a program interpreter`, {
      hint: "the tree is not a Debian root file system for this architecture",
    });
  // libc's PT_INTERP names the loader (relocated: already under the prefix, so take its file name).
  const loaderName = safeName(
    info.interpreter.split("/").pop()!,
    `${libc}: the loader its PT_INTERP names`,
    "a file name such as ld-linux-x86-64.so.2",
  );
  const tree = await realpath(treeDir);
  const loader = await realpath(join(treeDir, "usr/lib", triplet, loaderName));
  // the loader is patched in place: it must be the tree's own file, not one a link leads to outside
  relativeInside(tree, loader, `${libc}: the loader ${loaderName} (after its links)`);
  const files: PatchedFile[] = [];
  for (const [file, patches] of [
    [loader, loaderPatches(triplet)],
    [libc, libcPatches(triplet)],
  ] as const) {
    const r = await patchFileStrings(file, patches);
    files.push({ file: relative(treeDir, file), counts: r.counts, alreadyPatched: r.alreadyPatched });
  }
  return { files };
}
