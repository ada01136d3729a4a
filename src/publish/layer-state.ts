/**
 * What a published layer holds, as the cvmfs publisher needs it to change only what differs: an
 * index (path → type, mode, size, mtime, content sha256) of the tree compat last published there,
 * kept in the state dir, checked against a fresh listing of the layer on its host (find: types,
 * modes, sizes, mtimes and link targets come from the catalogs, nothing is read). A file whose
 * listing matches the kept entry takes its sha256 from it (rsync's quick check: size and mtime);
 * every other file is hashed on the host. Without a kept index (a layer compat did not publish,
 * or a state dir that was lost) every file is hashed once.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { type EntryIndex, type IndexEntry, isCatalogMarker, treeSha256 } from "../artifacts/entry-index.js";
import type { CommandHost } from "../exec/host.js";
import { log } from "../log.js";
import type { LayerListing, LiveEntry } from "./layer-guard.js";

export interface StoredTree {
  treeSha256: string;
  index: EntryIndex;
}

const FORMAT = "compat-tree/1";
type Row = [string, IndexEntry["type"], number, number, number | null, string];

/** Where the index of `layer`'s published tree is kept. */
export function storedTreePath(stateDir: string, repository: string, layer: string): string {
  return join(stateDir, "trees", repository, `${layer.replaceAll("/", "_")}.json.gz`);
}

export function writeStoredTree(file: string, index: EntryIndex): string {
  const rows: Row[] = [...index].map(([rel, e]) => [rel, e.type, e.mode, e.size, e.mtime ?? null, e.digest]);
  const digest = treeSha256(index);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.partial-${process.pid}`;
  writeFileSync(tmp, gzipSync(JSON.stringify({ format: FORMAT, treeSha256: digest, rows })));
  renameSync(tmp, file);
  return digest;
}

/** The kept index, or undefined when there is none or it cannot be read (it is only a shortcut). */
export function readStoredTree(file: string): StoredTree | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const data = JSON.parse(gunzipSync(readFileSync(file)).toString("utf8")) as {
      format: string;
      treeSha256: string;
      rows: Row[];
    };
    if (data.format !== FORMAT) return undefined;
    const index: EntryIndex = new Map(
      data.rows.map(([rel, type, mode, size, mtime, digest]) => [
        rel,
        { type, mode, size, digest, ...(mtime === null ? {} : { mtime }) },
      ]),
    );
    return { treeSha256: data.treeSha256, index };
  } catch {
    return undefined;
  }
}

export function removeStoredTree(file: string): void {
  rmSync(file, { force: true });
}

const HASH_SCRIPT = `set -u
cd -- "$1" || exit 3
shift
exec sha256sum -z -- "$@"
`;

/** Arguments per call: over ssh the whole command is one string, and sshd's `sh -c` takes ≤ 128 KiB. */
const BATCH_BYTES = 64 << 10;

/** sha256 of each of `paths` (relative to `layerPath`), read on `host`. */
export async function hashOnHost(
  host: CommandHost,
  layerPath: string,
  paths: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let batch: string[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    // `./` keeps a name that starts with `-` from being an option and sha256sum from escaping it.
    const r = await host.run([
      "sh",
      "-c",
      HASH_SCRIPT,
      "compat-hash",
      layerPath,
      ...batch.map((p) => `./${p}`),
    ]);
    const records = r.stdout.split("\0").filter(Boolean);
    records.forEach((rec, i) => {
      out.set(batch[i]!, rec.slice(0, 64));
    });
    batch = [];
    bytes = 0;
  };
  for (const p of paths) {
    if (bytes + p.length + 8 > BATCH_BYTES) await flush();
    batch.push(p);
    bytes += p.length + 8;
  }
  await flush();
  return out;
}

function sameListing(live: LiveEntry, kept: IndexEntry | undefined): boolean {
  return (
    kept !== undefined &&
    kept.type === "file" &&
    kept.mode === live.mode &&
    kept.size === live.size &&
    kept.mtime === live.mtime
  );
}

/**
 * The index of the published layer listed as `listing`: kept sha256s where the quick check holds,
 * the rest hashed on `host`. Types as an artifact's content index has them (no hard links: the
 * publisher broke them up); other file types are recorded as such, so any comparison sees them.
 */
export async function liveIndex(
  host: CommandHost,
  layerPath: string,
  listing: LayerListing,
  kept: EntryIndex | undefined,
): Promise<{ index: EntryIndex; hashed: number }> {
  const index: EntryIndex = new Map();
  const toHash: string[] = [];
  for (const [rel, e] of listing.entries) {
    if (e.type === "d")
      index.set(rel, { type: "directory", mode: e.mode, size: 0, digest: "", mtime: e.mtime });
    else if (e.type === "l")
      index.set(rel, { type: "symlink", mode: e.mode, size: 0, digest: e.target, mtime: e.mtime });
    else if (e.type === "f") {
      const k = kept?.get(rel);
      if (sameListing(e, k)) index.set(rel, { ...k!, mtime: e.mtime });
      else {
        index.set(rel, { type: "file", mode: e.mode, size: e.size, digest: "", mtime: e.mtime });
        toHash.push(rel);
      }
    } else
      index.set(rel, { type: "file", mode: e.mode, size: 0, digest: `special:${e.type}`, mtime: e.mtime });
  }
  // Nested-catalog markers are the repository's, not in any kept index: hashed (they are empty), not counted.
  const changed = toHash.filter((rel) => !isCatalogMarker(rel));
  if (changed.length > 0 && kept)
    log.debug(`quick check failed for: ${changed.slice(0, 10).join(", ")}${changed.length > 10 ? " …" : ""}`);
  const digests = await hashOnHost(host, layerPath, toHash);
  for (const rel of toHash) index.get(rel)!.digest = digests.get(rel) ?? "unreadable";
  return { index, hashed: changed.length };
}
