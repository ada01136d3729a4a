/**
 * What an impact check keeps for the next one: each object's verdict on a layer, by a sha256 of
 * everything the verdict depends on — the object's path and the digest of its dynamic interface
 * (the bytes the ELF reader read), the path and digest of every file its link map resolved, the
 * loader's search path — and of the code that reaches verdicts. Keys are content, never file
 * states (an inode, size and mtime can come back with other bytes: a republished CernVM-FS file, a
 * tarball unpacked again), so a verdict is reused only for exactly the same inputs: a published
 * layer and a software tree that did not change are judged once, and the next candidate's check
 * reads their objects' dynamic tables (for the keys) but looks up no undefined symbol.
 *
 * One JSON file per cache directory (default `$COMPAT_CACHE_DIR/impact`, else
 * `$XDG_CACHE_HOME/compat/impact`), written through a temporary file and a rename; a cache that
 * cannot be read, or was written by other code, is ignored (with a warning); one that cannot be
 * written is reported and left.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { log } from "../log.js";
import { readRegularFile } from "../paths/regular-file.js";
import { defaultCacheDir as compatCacheDir } from "../security/glsa/corpus.js";
import type { AbiProblem, ProblemKind, Verdict } from "./abi.js";
import { StringPool } from "./string-pool.js";

const FORMAT = "compat-impact-cache-v4";
const FILE = "impact-cache.json";
/** Verdicts kept: this run's, then earlier ones up to this many (other trees, other layers). */
const MAX_VERDICTS = 200_000;
/** Verdicts held without a cache directory: far more than the objects checked at once. */
const RECENT_VERDICTS = 1024;
/** A cache file larger than this is not read (it was not written by compat). */
const MAX_FILE_BYTES = 512 << 20;

/**
 * The modules whose code decides a verdict: a cache written by other code is not used. Hashed
 * from the files this process runs (dist/*.js, or the sources under vitest and tsx).
 */
const ANALYZER_MODULES = [
  "impact/abi",
  "impact/cache",
  "impact/objects",
  "impact/string-pool",
  "layer/elf",
  "layer/elf-symbols",
  "checks/ld-search",
  "checks/layer-fs",
  "checks/loader",
  "checks/suite/elf-libraries",
];

let codeFingerprint: string | undefined;

/** sha256 of the cache format and of the analyzer's code as this process runs it. */
export function analyzerFingerprint(): string {
  if (codeFingerprint) return codeFingerprint;
  const self = fileURLToPath(import.meta.url);
  const root = join(self, "..", "..");
  const ext = extname(self);
  const h = createHash("sha256").update(FORMAT);
  for (const m of ANALYZER_MODULES)
    h.update(m)
      .update("\0")
      .update(readFileSync(join(root, `${m}${ext}`)));
  codeFingerprint = h.digest("hex");
  return codeFingerprint;
}

/**
 * Verdicts by the digest of their inputs, in memory (and from the cache file). Without a cache to
 * save to (`recent`), only the latest are held: an object's verdict on the published layer is
 * reused for the candidate right after, and nothing later asks for it again (its path is in the key).
 */
export class Verdicts {
  private readonly map = new Map<string, Verdict>();
  private readonly used = new Set<string>();
  hits = 0;
  computed = 0;

  constructor(private readonly recent?: number) {}

  get(key: string): Verdict | undefined {
    const v = this.map.get(key);
    if (v) {
      this.hits++;
      if (this.recent === undefined) this.used.add(key);
    }
    return v;
  }

  set(key: string, verdict: Verdict): void {
    this.computed++;
    this.map.set(key, verdict);
    if (this.recent === undefined) this.used.add(key);
    else if (this.map.size > this.recent) this.map.delete(this.map.keys().next().value!);
  }

  /** This run's verdicts first, then earlier ones, at most `max`. */
  entries(max = MAX_VERDICTS): [string, Verdict][] {
    const out: [string, Verdict][] = [...this.used].map((k) => [k, this.map.get(k)!]);
    for (const [k, v] of this.map) {
      if (out.length >= max) break;
      if (!this.used.has(k)) out.push([k, v]);
    }
    return out.slice(0, max);
  }

  preload(entries: Iterable<[string, Verdict]>): void {
    for (const [k, v] of entries) if (!this.map.has(k)) this.map.set(k, v);
  }
}

/** Where `compat impact` keeps its cache unless told: `$COMPAT_CACHE_DIR/impact`, else the XDG cache. */
export function defaultCacheDir(env = process.env): string {
  return join(compatCacheDir(env), "impact");
}

/**
 * The file: every distinct problem once (a tree's missing library is a problem of every object that
 * loads what needs it), and each verdict as its key, the indexes of its problems and its isolated
 * symbols.
 */
interface CacheFile {
  format: string;
  code: string;
  problems: [ProblemKind, string, string, string][];
  verdicts: [string, number[], string[]][];
}

/** The verdicts of a cache directory (none when there is no cache yet, or it cannot be used). */
export async function openCache(dir: string | undefined): Promise<Verdicts> {
  if (!dir) return new Verdicts(RECENT_VERDICTS);
  const verdicts = new Verdicts();
  const file = join(dir, FILE);
  let text: string;
  try {
    text = await readRegularFile(file, MAX_FILE_BYTES, { noFollow: true, ownedBySelf: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT")
      log.warn(`impact cache ${file}: cannot read it (${code ?? (e as Error).message}); starting without`);
    return verdicts;
  }
  try {
    const data = JSON.parse(text) as Partial<CacheFile>;
    if (data.format !== FORMAT || !Array.isArray(data.verdicts) || !Array.isArray(data.problems))
      throw new Error(`not a ${FORMAT} file`);
    // written by other code (another compat version): its verdicts may not be this code's
    if (data.code !== analyzerFingerprint()) return verdicts;
    const problems = data.problems.map(problemOf);
    // a symbol left to the loading program (`Py*`) is named by hundreds of verdicts: held once
    const names = new StringPool();
    verdicts.preload(
      data.verdicts.flatMap((e) => {
        const v = verdictOf(e, problems, names);
        return v ? [v] : [];
      }),
    );
  } catch (e) {
    log.warn(`impact cache ${file}: ignored (${(e as Error).message}); it is written anew`);
  }
  return verdicts;
}

const KINDS: readonly ProblemKind[] = ["interpreter", "needed", "version", "symbol"];

/** A problem of the file's table; undefined when it is not one (the verdicts that name it are dropped). */
function problemOf(e: unknown): AbiProblem | undefined {
  if (!Array.isArray(e) || e.length !== 4 || !e.every((x) => typeof x === "string")) return undefined;
  const [kind, by, what, message] = e as string[];
  if (!KINDS.includes(kind as ProblemKind)) return undefined;
  return { kind: kind as ProblemKind, by: by!, what: what!, message: message! };
}

/** A verdict of the file, its problems those of the table; undefined when it is not one. */
function verdictOf(
  e: unknown,
  problems: readonly (AbiProblem | undefined)[],
  names: StringPool,
): [string, Verdict] | undefined {
  if (!Array.isArray(e) || e.length !== 3) return undefined;
  const [key, indexes, isolated] = e as unknown[];
  if (typeof key !== "string" || !/^[0-9a-f]{64}$/.test(key)) return undefined;
  if (!Array.isArray(isolated) || !isolated.every((n) => typeof n === "string")) return undefined;
  // a problem named twice would be a finding twice
  if (!Array.isArray(indexes) || new Set(indexes).size !== indexes.length) return undefined;
  const mine: AbiProblem[] = [];
  for (const i of indexes) {
    const p = Number.isInteger(i) ? problems[i as number] : undefined;
    if (!p) return undefined;
    mine.push(p);
  }
  return [key, { problems: mine, isolated: (isolated as string[]).map((n) => names.of(n)) }];
}

/** Keep this run's verdicts (and earlier ones) for the next run. Failing to write is a warning. */
export async function saveCache(dir: string | undefined, verdicts: Verdicts): Promise<void> {
  if (!dir) return;
  const file = join(dir, FILE);
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    const problems: CacheFile["problems"] = [];
    const indexOf = new Map<string, number>();
    // verdicts share their problem objects (abi.ts): most are found by identity, without a key string
    const indexOfObject = new Map<AbiProblem, number>();
    const index = (p: AbiProblem) => {
      let i = indexOfObject.get(p);
      if (i !== undefined) return i;
      const k = `${p.kind}\0${p.by}\0${p.what}\0${p.message}`;
      i = indexOf.get(k);
      if (i === undefined) {
        i = problems.push([p.kind, p.by, p.what, p.message]) - 1;
        indexOf.set(k, i);
      }
      indexOfObject.set(p, i);
      return i;
    };
    const data: CacheFile = {
      format: FORMAT,
      code: analyzerFingerprint(),
      problems,
      verdicts: verdicts.entries().map(([key, v]) => [key, v.problems.map(index), v.isolated]),
    };
    await writeFile(tmp, JSON.stringify(data), { flag: "wx", mode: 0o600 });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    log.warn(
      `impact cache ${file}: not written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
