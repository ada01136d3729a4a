/**
 * Every ELF object of the layer, read once, in parallel, from the shared tree walk. Hard links are
 * read once and listed under every name.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { type ElfInfo, isElfHeader, readElf } from "../layer/elf.js";
import type { TreeEntry, TreeIndex } from "./tree.js";

export interface ElfObject {
  /** Path relative to the prefix (the first name when hard-linked). */
  rel: string;
  /** Other names of the same file. */
  aliases: string[];
  info: ElfInfo;
  entry: TreeEntry;
}

export interface ElfIndex {
  objects: ElfObject[];
  /** Relative path (any name) → object. */
  byRel: Map<string, ElfObject>;
  /** Regular files that start like ELF but could not be parsed. */
  malformed: string[];
  durationMs: number;
}

/** Smallest possible ELF header (32-bit). */
const MIN_ELF_SIZE = 52;
const CONCURRENCY = 32;

const head = Buffer.alloc(4);

function startsLikeElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    return readSync(fd, head, 0, 4, 0) === 4 && isElfHeader(head);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export async function indexElf(tree: TreeIndex, localPrefix: string): Promise<ElfIndex> {
  const started = Date.now();
  const firstByInode = new Map<string, TreeEntry>();
  const aliases = new Map<string, string[]>();
  const candidates: TreeEntry[] = [];
  for (const e of tree.entries) {
    if (e.kind !== "file" || e.size < MIN_ELF_SIZE) continue;
    const first = e.nlink > 1 ? firstByInode.get(e.inode) : undefined;
    if (first) {
      aliases.get(first.rel)!.push(e.rel);
      continue;
    }
    if (e.nlink > 1) firstByInode.set(e.inode, e);
    aliases.set(e.rel, []);
    candidates.push(e);
  }

  // Most files are not ELF: a synchronous look at their first four bytes rules them out cheaply.
  const elfCandidates = candidates.filter((e) => startsLikeElf(`${localPrefix}/${e.rel}`));
  candidates.length = 0;
  candidates.push(...elfCandidates);
  const infos: (ElfInfo | undefined)[] = new Array(candidates.length);
  const malformed: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < candidates.length) {
      const i = next++;
      const e = candidates[i]!;
      try {
        infos[i] = await readElf(`${localPrefix}/${e.rel}`);
      } catch {
        malformed.push(e.rel);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  const objects: ElfObject[] = [];
  const byRel = new Map<string, ElfObject>();
  candidates.forEach((e, i) => {
    const info = infos[i];
    if (!info) return;
    const o: ElfObject = { rel: e.rel, aliases: aliases.get(e.rel) ?? [], info, entry: e };
    objects.push(o);
    byRel.set(e.rel, o);
    for (const a of o.aliases) byRel.set(a, o);
  });
  return { objects, byRel, malformed, durationMs: Date.now() - started };
}
