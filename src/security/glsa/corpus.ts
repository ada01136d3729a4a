/**
 * A directory of GLSA files (`metadata/glsa` of a Gentoo repository) as a parsed corpus,
 * cached between runs.
 *
 * The cache is keyed by content: every file's sha256 is recorded with its parse result, and a
 * file whose content changed is parsed again (the others are reused). To avoid hashing 10 MB
 * on every run, a file whose size and mtime are those recorded, and whose mtime is older than
 * the cache itself (not "racily clean", in git's words), keeps its recorded hash; git's index
 * makes the same bargain. The cache has two files: an index with what matching needs (the
 * package ranges) and a details file read only for the advisories that hit something.
 *
 * A cold parse is spread over worker threads (the main thread parses too).
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Glsa, GlsaPackage } from "../../gentoo/glsa/model.js";
import { log } from "../../log.js";

/** Bump when the parsed model changes, so old caches are rebuilt. */
export const CORPUS_FORMAT = 3;

export interface CorpusAdvisory {
  id: string;
  file: string;
  /** The `<package name>`s, one per element, in order (the matching index is built from these). */
  packageNames: string[];
  /** The elements with their ranges (decoded from the cache only when asked for). */
  packages(): GlsaPackage[];
  /** The whole advisory (read from the cache's details file on demand). */
  glsa(): Glsa;
}

export interface GlsaCorpus {
  directory: string;
  advisories: CorpusAdvisory[];
  invalid: { file: string; message: string }[];
  cache: "off" | "cold" | "warm" | "partial";
}

/** What one file parsed into (also what a worker sends back). */
export type ParseOutcome = { name: string; glsa: Glsa } | { name: string; error: string };

/** The GLSA file name pattern; the id is between `glsa-` and `.xml`. */
export const GLSA_FILE_RE = /^glsa-(.+)\.xml$/;

interface IndexEntry {
  /** size, mtimeMs, sha256 */
  s: number;
  m: number;
  h: string;
  e?: string;
  /** package names, and the package elements as JSON text (parsed only for installed names) */
  n?: string[];
  p?: string;
  /** byte range of the advisory in the details file */
  o?: number;
  l?: number;
}

interface CacheIndex {
  format: number;
  directory: string;
  writtenAtMs: number;
  /** The details file this index describes (named by its content, so two writers never mix). */
  details: string;
  /** Its size: a shorter file (a write cut short) makes the whole cache invalid. */
  detailsBytes: number;
  files: Record<string, IndexEntry>;
}

/** Files modified this close to the cache's own write are hashed again. */
const RACY_MS = 2000;

/** The default cache directory: $COMPAT_CACHE_DIR, else $XDG_CACHE_HOME/compat, else ~/.cache/compat. */
export function defaultCacheDir(env = process.env): string {
  if (env.COMPAT_CACHE_DIR) return resolve(env.COMPAT_CACHE_DIR);
  const base = env.XDG_CACHE_HOME || join(env.HOME || "/tmp", ".cache");
  return join(base, "compat");
}

function cachePaths(cacheDir: string, directory: string) {
  const key = createHash("sha256").update(directory).digest("hex").slice(0, 16);
  const dir = join(cacheDir, "glsa");
  return { dir, key, index: join(dir, `${key}.index.json`) };
}

function readCache(paths: ReturnType<typeof cachePaths>, directory: string) {
  try {
    const index = JSON.parse(readFileSync(paths.index, "utf8")) as CacheIndex;
    if (index.format !== CORPUS_FORMAT || index.directory !== directory) return undefined;
    const details = readFileSync(join(paths.dir, index.details));
    return details.length === index.detailsBytes ? { index, details } : undefined;
  } catch {
    return undefined;
  }
}

/** Content key of a file (the first 128 bits of its sha256: plenty to tell versions of a file apart). */
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex").slice(0, 32);

/** Parse files in worker threads and here at the same time. */
async function parseMany(
  directory: string,
  files: { name: string; content: Buffer }[],
): Promise<ParseOutcome[]> {
  if (files.length === 0) return [];
  if (files.length >= 200)
    log.info(`parsing ${files.length} GLSA files of ${directory} (kept in the cache for the next runs)`);
  // the XML parser is loaded only when something has to be parsed
  const { parseGlsaFile } = await import("./parse-file.js");
  const workerFile = fileURLToPath(new URL("./parse-worker.js", import.meta.url));
  // Running from TypeScript sources (tests) there is no compiled worker: parse here.
  const threads = existsSync(workerFile) && files.length >= 200 ? Math.min(availableParallelism(), 4) : 1;
  if (threads === 1) return files.map((f) => parseGlsaFile(f.name, f.content.toString("utf8")));
  const share = Math.ceil(files.length / threads);
  const pending: Promise<ParseOutcome[]>[] = [];
  for (let t = 1; t < threads; t++) {
    const names = files.slice(t * share, (t + 1) * share).map((f) => f.name);
    pending.push(
      new Promise((resolveResults, reject) => {
        const worker = new Worker(workerFile, { workerData: { directory, names } });
        worker.once("message", resolveResults);
        worker.once("error", reject);
      }),
    );
  }
  const mine = files.slice(0, share).map((f) => parseGlsaFile(f.name, f.content.toString("utf8")));
  const theirs = await Promise.all(pending);
  return [...mine, ...theirs.flat()];
}

/** Load a GLSA directory, through the cache in `cacheDir` when given. */
export async function loadGlsaCorpus(directory: string, cacheDir?: string): Promise<GlsaCorpus> {
  const dir = resolve(directory);
  const names = readdirSync(dir)
    .filter((n) => GLSA_FILE_RE.test(n))
    .sort();
  const paths = cacheDir ? cachePaths(cacheDir, dir) : undefined;
  const cached = paths ? readCache(paths, dir) : undefined;

  const entries = new Map<string, IndexEntry>();
  const fresh = new Map<string, Glsa>();
  const toParse: { name: string; content: Buffer }[] = [];
  let touched = false;
  for (const name of names) {
    const st = statSync(join(dir, name));
    const old = cached?.index.files[name];
    if (
      old &&
      old.s === st.size &&
      old.m === st.mtimeMs &&
      st.mtimeMs < cached!.index.writtenAtMs - RACY_MS
    ) {
      entries.set(name, old);
      continue;
    }
    const content = readFileSync(join(dir, name));
    const h = sha256(content);
    if (old && old.h === h) {
      touched ||= old.s !== st.size || old.m !== st.mtimeMs;
      entries.set(name, { ...old, s: st.size, m: st.mtimeMs });
      continue;
    }
    entries.set(name, { s: st.size, m: st.mtimeMs, h });
    toParse.push({ name, content });
  }
  for (const outcome of await parseMany(dir, toParse)) {
    const entry = entries.get(outcome.name)!;
    if ("error" in outcome) entry.e = outcome.error;
    else {
      entry.n = outcome.glsa.packages.map((p) => p.name);
      entry.p = JSON.stringify(outcome.glsa.packages);
      fresh.set(outcome.name, outcome.glsa);
    }
  }

  const cacheState = !paths
    ? "off"
    : toParse.length === 0 && cached
      ? "warm"
      : toParse.length === names.length
        ? "cold"
        : "partial";
  let details: Buffer | undefined = cached?.details;
  const changed =
    touched || toParse.length > 0 || (cached && Object.keys(cached.index.files).length !== names.length);
  if (paths && (changed || !cached)) details = writeCache(paths, dir, entries, fresh, cached?.details);

  const advisories: CorpusAdvisory[] = [];
  const invalid: GlsaCorpus["invalid"] = [];
  for (const [name, entry] of entries) {
    if (entry.e !== undefined) {
      invalid.push({ file: name, message: entry.e });
      continue;
    }
    const id = GLSA_FILE_RE.exec(name)![1]!;
    let glsa = fresh.get(name);
    let packages = glsa?.packages;
    advisories.push({
      id,
      file: name,
      packageNames: entry.n!,
      packages: () => {
        packages ??= JSON.parse(entry.p!) as GlsaPackage[];
        return packages;
      },
      glsa: () => {
        if (!glsa) glsa = JSON.parse(details!.toString("utf8", entry.o!, entry.o! + entry.l!)) as Glsa;
        return glsa;
      },
    });
  }
  return { directory: dir, advisories, invalid, cache: cacheState };
}

function writeCache(
  paths: ReturnType<typeof cachePaths>,
  directory: string,
  entries: Map<string, IndexEntry>,
  fresh: Map<string, Glsa>,
  oldDetails: Buffer | undefined,
): Buffer {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, entry] of entries) {
    if (entry.e !== undefined) continue;
    const glsa = fresh.get(name);
    const chunk = glsa
      ? Buffer.from(`${JSON.stringify(glsa)}\n`)
      : oldDetails!.subarray(entry.o!, entry.o! + entry.l! + 1);
    entry.o = offset;
    entry.l = chunk.length - 1;
    chunks.push(chunk);
    offset += chunk.length;
  }
  const details = Buffer.concat(chunks);
  const detailsName = `${paths.key}.${sha256(details).slice(0, 16)}.details.json`;
  const index: CacheIndex = {
    format: CORPUS_FORMAT,
    directory,
    writtenAtMs: Date.now(),
    details: detailsName,
    detailsBytes: details.length,
    files: Object.fromEntries(entries),
  };
  try {
    mkdirSync(paths.dir, { recursive: true });
    // details first, index last: an index always names a complete details file
    const tmp = `.${process.pid}.tmp`;
    writeFileSync(join(paths.dir, detailsName + tmp), details);
    renameSync(join(paths.dir, detailsName + tmp), join(paths.dir, detailsName));
    writeFileSync(paths.index + tmp, JSON.stringify(index));
    renameSync(paths.index + tmp, paths.index);
    for (const f of readdirSync(paths.dir))
      if (f.startsWith(`${paths.key}.`) && f.endsWith(".details.json") && f !== detailsName)
        rmSync(join(paths.dir, f), { force: true });
  } catch (e) {
    log.warn(`cannot write the GLSA cache in ${paths.dir}: ${(e as Error).message} (continuing without it)`);
  }
  return details;
}
