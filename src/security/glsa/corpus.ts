/**
 * A directory of GLSA files (`metadata/glsa` of a Gentoo repository) as a parsed corpus,
 * cached between runs.
 *
 * The cache is keyed by content: every file's sha256 is recorded with its parse result, every
 * run reads and hashes every file (about 10 MB for Gentoo's 3,817 advisories: ~40 ms, about what
 * reading them alone costs), and a file whose content changed is parsed again (the others are
 * reused). Size and mtime are not trusted: a file edited in place with its mtime restored is
 * still seen as changed.
 *
 * The cache is one file per GLSA directory, read with one read: a header line (JSON, per GLSA
 * file its name, hash, package names and where its parts are) and then each
 * file's parts as JSON texts, decoded only for what an audit touches: the ranges of the
 * advisories that name an installed package, the title, severity and CVEs of those that hit,
 * the whole advisory on demand. (An index of 3,817 objects holding nested JSON, as before,
 * cost more to decode, and to collect as garbage, than the audit itself.)
 *
 * A parse of many files is spread over worker threads (the main thread parses too).
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Glsa, GlsaPackage } from "../../gentoo/glsa/model.js";
import { log } from "../../log.js";
import {
  contentHash,
  type FileCheck,
  GLSA_FILE_RE,
  type GlsaRest,
  type GlsaSummary,
  joinGlsa,
  type PartsAt,
} from "./stored.js";

export { GLSA_FILE_RE, type GlsaSummary } from "./stored.js";

/** Bump when the parsed model or the cache's layout changes, so old caches are rebuilt. */
export const CORPUS_FORMAT = 5;

export interface CorpusAdvisory {
  id: string;
  file: string;
  /** The `<package name>`s, one per element, in order (the matching index is built from these). */
  packageNames: string[];
  /** The elements with their ranges (decoded on first call). */
  packages(): GlsaPackage[];
  /** What a finding shows of the advisory (decoded on first call). */
  summary(): GlsaSummary;
  /** The whole advisory (decoded on first call). */
  glsa(): Glsa;
}

export interface GlsaCorpus {
  directory: string;
  advisories: CorpusAdvisory[];
  invalid: { file: string; message: string }[];
  cache: "off" | "cold" | "warm" | "partial";
}

interface CacheHeader {
  format: number;
  directory: string;
  /** Bytes after the header line: fewer (a write cut short) and the whole cache is ignored. */
  partsBytes: number;
  files: string[];
  hashes: string[];
  /** Per file: why it is not a usable GLSA, or null. */
  errors: (string | null)[];
  packageNames: string[][];
  /** File i's parts (see PartsAt) begin at offsets[3i], in the bytes after the header line. */
  offsets: number[];
}

interface Cache {
  header: CacheHeader;
  parts: Buffer;
}

/** One GLSA file: its content hash, and its parse (from the old cache, or just made). */
interface Entry {
  name: string;
  hash: string;
  error: string | null;
  packageNames: string[];
  /** The buffer holding its parts, and where (for a usable GLSA). */
  source?: Buffer;
  at?: PartsAt;
}

/** Below this many files to parse, a worker thread costs more than it saves. */
const PARALLEL_FROM = 200;
const CACHE_SUFFIX = `.glsa-v${CORPUS_FORMAT}.cache`;

/** The default cache directory: $COMPAT_CACHE_DIR, else $XDG_CACHE_HOME/compat, else ~/.cache/compat. */
export function defaultCacheDir(env = process.env): string {
  if (env.COMPAT_CACHE_DIR) return resolve(env.COMPAT_CACHE_DIR);
  const base = env.XDG_CACHE_HOME || join(env.HOME || "/tmp", ".cache");
  return join(base, "compat");
}

function cachePaths(cacheDir: string, directory: string) {
  const key = createHash("sha256").update(directory).digest("hex").slice(0, 16);
  const dir = join(cacheDir, "glsa");
  return { dir, key, file: join(dir, `${key}${CACHE_SUFFIX}`) };
}

function readCache(file: string, directory: string): Cache | undefined {
  try {
    const bytes = readFileSync(file);
    const newline = bytes.indexOf(10);
    if (newline === -1) return undefined;
    const header = JSON.parse(bytes.toString("utf8", 0, newline)) as CacheHeader;
    const parts = bytes.subarray(newline + 1);
    if (
      header.format !== CORPUS_FORMAT ||
      header.directory !== directory ||
      parts.length !== header.partsBytes
    )
      return undefined;
    return { header, parts };
  } catch {
    return undefined;
  }
}

/** The entry of cached file i. */
function cachedEntry(cache: Cache, i: number): Entry {
  const h = cache.header;
  const error = h.errors[i]!;
  return {
    name: h.files[i]!,
    hash: h.hashes[i]!,
    error,
    packageNames: h.packageNames[i]!,
    ...(error === null ? { source: cache.parts, at: { offsets: h.offsets, base: 3 * i } } : {}),
  };
}

/** The content hash of a file (as parse-file.ts's checkFile makes it), read into a reused buffer. */
function hashFile(path: string, scratch: { buffer: Buffer }): string {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (scratch.buffer.length < size + 1) scratch.buffer = Buffer.allocUnsafe(size + 1);
    let off = 0;
    for (;;) {
      if (off === scratch.buffer.length) {
        const bigger = Buffer.allocUnsafe(2 * off);
        scratch.buffer.copy(bigger);
        scratch.buffer = bigger;
      }
      const n = readSync(fd, scratch.buffer, off, scratch.buffer.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return contentHash(scratch.buffer.subarray(0, off));
  } finally {
    closeSync(fd);
  }
}

/**
 * Check (read, hash, parse unless known) files here and in worker threads at the same time;
 * each check with the buffer its parts are in, in input order.
 */
async function checkMany(
  directory: string,
  files: { name: string; knownHash?: string }[],
): Promise<{ check: FileCheck; source: Buffer }[]> {
  if (files.length === 0) return [];
  if (files.length >= PARALLEL_FROM)
    log.info(`parsing ${files.length} GLSA files of ${directory} (kept in the cache for the next runs)`);
  // the XML parser is loaded only when something has to be parsed
  const { checkFiles } = await import("./parse-file.js");
  const workerFile = fileURLToPath(new URL("./parse-worker.js", import.meta.url));
  // Running from TypeScript sources (tests) there is no compiled worker: check here.
  const threads =
    existsSync(workerFile) && files.length >= PARALLEL_FROM ? Math.min(availableParallelism(), 4) : 1;
  // Interleaved shares: newer advisories are longer, so halves by position would be unequal.
  const share = (t: number) => files.filter((_, i) => i % threads === t);
  const pending: Promise<{ checks: FileCheck[]; parts: Uint8Array }>[] = [];
  for (let t = 1; t < threads; t++)
    pending.push(
      new Promise((resolveChecks, reject) => {
        const worker = new Worker(workerFile, { workerData: { directory, files: share(t) } });
        worker.once("message", resolveChecks);
        worker.once("error", reject);
      }),
    );
  const results = [checkFiles(directory, share(0)), ...(await Promise.all(pending))].map((r) => ({
    checks: r.checks,
    // a buffer arrives from a worker as a plain Uint8Array
    parts: Buffer.from(r.parts.buffer, r.parts.byteOffset, r.parts.byteLength),
  }));
  return files.map((_, i) => {
    const r = results[i % threads]!;
    return { check: r.checks[Math.floor(i / threads)]!, source: r.parts };
  });
}

/** Load a GLSA directory, through the cache in `cacheDir` when given. */
export async function loadGlsaCorpus(directory: string, cacheDir?: string): Promise<GlsaCorpus> {
  const dir = resolve(directory);
  const names = readdirSync(dir)
    .filter((n) => GLSA_FILE_RE.test(n))
    .sort();
  const paths = cacheDir ? cachePaths(cacheDir, dir) : undefined;
  const cached = paths ? readCache(paths.file, dir) : undefined;
  const header = cached?.header;

  const entries: Entry[] = new Array(names.length);
  const toCheck: { at: number; name: string; knownHash?: string; cachedAt?: number }[] = [];
  const scratch = { buffer: Buffer.allocUnsafe(1 << 16) };
  // both lists are sorted: walk them together
  for (let at = 0, i = 0; at < names.length; at++) {
    const name = names[at]!;
    while (header && i < header.files.length && header.files[i]! < name) i++;
    const known = header?.files[i] === name;
    if (known && hashFile(`${dir}/${name}`, scratch) === header.hashes[i]) {
      entries[at] = cachedEntry(cached!, i);
      continue;
    }
    toCheck.push(known ? { at, name, knownHash: header.hashes[i], cachedAt: i } : { at, name });
  }
  let parsed = 0;
  (await checkMany(dir, toCheck)).forEach(({ check, source }, k) => {
    const { at, cachedAt } = toCheck[k]!;
    if (!check.parsed) {
      // changed between the two reads back to what the cache has
      entries[at] = cachedEntry(cached!, cachedAt!);
      return;
    }
    parsed++;
    const p = check.parsed;
    entries[at] = {
      name: check.name,
      hash: check.hash,
      ...("error" in p
        ? { error: p.error, packageNames: [] }
        : { error: null, packageNames: p.packageNames, source, at: p.at }),
    };
  });

  const cacheState = !paths
    ? "off"
    : parsed === 0 && cached
      ? "warm"
      : parsed === names.length
        ? "cold"
        : "partial";
  const changed = !cached || toCheck.length > 0 || header!.files.length !== names.length;
  if (paths && changed) writeCache(paths, dir, entries);
  return corpusOf(dir, entries, cacheState);
}

/** Part k of an entry (0 packages, 1 summary, 2 the rest), decoded. */
function part<T>(entry: Entry, k: 0 | 1 | 2): T {
  const { offsets, base } = entry.at!;
  return JSON.parse(entry.source!.toString("utf8", offsets[base + k], offsets[base + k + 1])) as T;
}

function corpusOf(directory: string, entries: Entry[], state: GlsaCorpus["cache"]): GlsaCorpus {
  const advisories: CorpusAdvisory[] = [];
  const invalid: GlsaCorpus["invalid"] = [];
  for (const entry of entries) {
    if (entry.error !== null) {
      invalid.push({ file: entry.name, message: entry.error });
      continue;
    }
    let packages: GlsaPackage[] | undefined;
    let summary: GlsaSummary | undefined;
    let glsa: Glsa | undefined;
    const advisory: CorpusAdvisory = {
      id: GLSA_FILE_RE.exec(entry.name)![1]!,
      file: entry.name,
      packageNames: entry.packageNames,
      packages: () => (packages ??= part<GlsaPackage[]>(entry, 0)),
      summary: () => (summary ??= part<GlsaSummary>(entry, 1)),
      glsa: () => (glsa ??= joinGlsa(advisory.packages(), advisory.summary(), part<GlsaRest>(entry, 2))),
    };
    advisories.push(advisory);
  }
  return { directory, advisories, invalid, cache: state };
}

/** Write the cache of `entries` (their parts copied as bytes); a cache that cannot be written is only a warning. */
function writeCache(paths: ReturnType<typeof cachePaths>, directory: string, entries: Entry[]): void {
  const chunks: Buffer[] = [];
  const offsets: number[] = [0];
  let end = 0;
  for (const e of entries) {
    if (e.error === null) {
      const { offsets: o, base } = e.at!;
      chunks.push(e.source!.subarray(o[base], o[base + 3]));
      for (let k = 1; k <= 3; k++) offsets.push(end + o[base + k]! - o[base]!);
      end += o[base + 3]! - o[base]!;
    } else offsets.push(end, end, end);
  }
  const header: CacheHeader = {
    format: CORPUS_FORMAT,
    directory,
    partsBytes: end,
    files: entries.map((e) => e.name),
    hashes: entries.map((e) => e.hash),
    errors: entries.map((e) => e.error),
    packageNames: entries.map((e) => e.packageNames),
    offsets,
  };
  try {
    mkdirSync(paths.dir, { recursive: true });
    const tmp = `${paths.file}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`, "utf8"), ...chunks]));
    renameSync(tmp, paths.file);
    // an earlier format's files for the same directory
    for (const f of readdirSync(paths.dir))
      if (f.startsWith(`${paths.key}.`) && !f.endsWith(".tmp") && join(paths.dir, f) !== paths.file)
        rmSync(join(paths.dir, f), { force: true });
  } catch (e) {
    log.warn(`cannot write the GLSA cache in ${paths.dir}: ${(e as Error).message} (continuing without it)`);
  }
}
