/**
 * An index of a layer's entries (path → type, mode, size, content digest), built from a prefix on
 * disk or from an artifact. Diffs and deltas compare two indexes; mtimes are left out on purpose,
 * since every rebuild touches them and they say nothing about content.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import type { Header } from "tar-stream";
import { ValidationError } from "../errors.js";
import { walkTree } from "./tree.js";
import { type VerifyReport, verifyArtifact } from "./verify.js";

export type IndexEntryType = "directory" | "file" | "hardlink" | "symlink";

export interface IndexEntry {
  type: IndexEntryType;
  mode: number;
  size: number;
  /** sha256 of a file's content; a symlink's target; a hard link's target path. */
  digest: string;
  /** Whole seconds, when known (an artifact's header, a tree on disk); never compared by diffs. */
  mtime?: number;
}

/** Paths are relative to the layer's top (the prefix, or the artifact's top dir); `""` is the top itself. */
export type EntryIndex = Map<string, IndexEntry>;

const READ_CHUNK = 1 << 20;

export function hashFile(
  path: string,
  scratch: Buffer = Buffer.allocUnsafe(READ_CHUNK),
): { digest: string; size: number } {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  let size = 0;
  try {
    for (;;) {
      const n = readSync(fd, scratch, 0, scratch.length, null);
      if (n === 0) break;
      hash.update(scratch.subarray(0, n));
      size += n;
    }
  } finally {
    closeSync(fd);
  }
  return { digest: hash.digest("hex"), size };
}

export function indexTree(root: string): EntryIndex {
  const index: EntryIndex = new Map();
  const scratch = Buffer.allocUnsafe(READ_CHUNK);
  for (const e of walkTree(root)) {
    if (e.type === "special") {
      index.set(e.rel, { type: "file", mode: e.mode, size: 0, digest: `special:${e.special}` });
      continue;
    }
    if (e.type === "file") {
      const { digest, size } = hashFile(e.abs, scratch);
      index.set(e.rel, { type: "file", mode: e.mode, size, digest, mtime: e.mtime });
    } else {
      index.set(e.rel, { type: e.type, mode: e.mode, size: 0, digest: e.linkTarget ?? "", mtime: e.mtime });
    }
  }
  return index;
}

/** Where a regular file's content also goes while it is indexed (a delta keeps some base files). */
export interface ContentSink {
  write(chunk: Buffer): void | Promise<void>;
  /** The content is complete; `digest` is its sha256. */
  end(digest: string): void | Promise<void>;
}

export interface IndexArtifactOptions {
  /** A sink for the content of the regular file `rel` of `size` bytes, or none. */
  contentSink?: (rel: string, size: number) => ContentSink | undefined;
}

/**
 * A verifier's `onMember` that indexes each member into `index` (paths relative to the top dir,
 * the first four components of the first member's name), hashing content as it passes.
 */
export function indexingMember(
  index: EntryIndex,
  opts: IndexArtifactOptions = {},
): (h: Header, content: AsyncIterable<Buffer>) => Promise<void> {
  let topDir = "";
  return async (h, content) => {
    const name = h.type === "directory" ? h.name.replace(/\/$/, "") : h.name;
    if (!topDir) topDir = name.split("/").slice(0, 4).join("/");
    // Members outside the top dir are violations of their own; they are not indexed.
    if (name !== topDir && !name.startsWith(`${topDir}/`)) return;
    const rel = name === topDir ? "" : name.slice(topDir.length + 1);
    const mode = (h.mode ?? 0) & 0o7777;
    const mtime = h.mtime ? Math.floor(h.mtime.getTime() / 1000) : undefined;
    if (h.type === "file") {
      const hash = createHash("sha256");
      const sink = opts.contentSink?.(rel, h.size ?? 0);
      let size = 0;
      for await (const c of content) {
        hash.update(c);
        size += c.length;
        if (sink) await sink.write(c);
      }
      const digest = hash.digest("hex");
      await sink?.end(digest);
      index.set(rel, { type: "file", mode, size, digest, mtime });
    } else if (h.type === "link") {
      const target = (h.linkname ?? "").slice(topDir.length + 1);
      index.set(rel, { type: "hardlink", mode, size: 0, digest: target, mtime });
    } else if (h.type === "symlink") {
      index.set(rel, { type: "symlink", mode, size: 0, digest: h.linkname ?? "", mtime });
    } else if (h.type === "directory") {
      index.set(rel, { type: "directory", mode, size: 0, digest: "", mtime });
    }
  };
}

/** Index an artifact while verifying it; a rejected artifact is a ValidationError. */
export async function indexArtifact(
  path: string,
  opts: IndexArtifactOptions = {},
): Promise<{ index: EntryIndex; report: VerifyReport }> {
  const index: EntryIndex = new Map();
  const report = await verifyArtifact(path, {
    // Indexing is not a gate: setuid members are allowed here; verify and publish decide.
    allowSetuid: [],
    onMember: indexingMember(index, opts),
  });
  const blocking = report.violations.filter((v) => v.rule !== "setuid");
  if (blocking.length > 0)
    throw new ValidationError(
      `${path}: rejected while reading it (${blocking.length} problem${blocking.length === 1 ? "" : "s"})`,
      {
        details: blocking
          .slice(0, 20)
          .map((v) => `[${v.rule}] ${v.member ? `${v.member}: ` : ""}${v.message}`),
        hint: `run: compat verify ${path}`,
      },
    );
  return { index, report };
}

/** The content digest of an entry, following a hard link to the file it shares content with. */
export function contentDigest(index: EntryIndex, rel: string): string | undefined {
  const e = index.get(rel);
  if (!e) return undefined;
  if (e.type === "hardlink") return index.get(e.digest)?.digest;
  return e.digest;
}

/** The name of CernVM-FS's nested-catalog marker: an empty regular file that makes its directory a catalog root. */
export const CATALOG_MARKER = ".cvmfscatalog";

/** A nested-catalog marker (at any depth): repository structure, not layer content. */
export function isCatalogMarker(rel: string): boolean {
  return rel === CATALOG_MARKER || rel.endsWith(`/${CATALOG_MARKER}`);
}

/**
 * The layer's content as a published tree holds it and as trees are compared: hard links as the
 * regular files they are (CernVM-FS breaks hard links up), and no nested-catalog markers (a
 * repository adds them at publish time, by compat or by its `.cvmfsdirtab`).
 */
export function contentIndex(index: EntryIndex, opts: { keepMarkers?: boolean } = {}): EntryIndex {
  const out: EntryIndex = new Map();
  for (const [rel, e] of index) {
    if (isCatalogMarker(rel) && !opts.keepMarkers) continue;
    if (e.type !== "hardlink") {
      out.set(rel, e);
      continue;
    }
    const target = index.get(e.digest);
    out.set(rel, {
      type: "file",
      mode: e.mode,
      size: target?.size ?? 0,
      digest: target?.digest ?? `missing:${e.digest}`,
      mtime: e.mtime,
    });
  }
  return out;
}

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The sha256 of a layer's tree: every path with its type, permission bits and content digest
 * (symlink target; file sha256), hard links as files, catalog markers and mtimes left out, in
 * byte order of the paths. Equal for an artifact and the tree it was published to.
 */
export function treeSha256(index: EntryIndex): string {
  const h = createHash("sha256");
  const content = contentIndex(index);
  for (const rel of [...content.keys()].sort(byUtf8)) {
    const e = content.get(rel)!;
    h.update(`${rel}\0${e.type}\0${e.mode.toString(8)}\0${e.type === "directory" ? "" : e.digest}\n`);
  }
  return h.digest("hex");
}

export interface IndexDifference {
  path: string;
  /** What differs: missing, unexpected, type, mode, content, target. */
  what: "missing" | "unexpected" | "type" | "mode" | "content" | "target";
  expected?: string;
  actual?: string;
}

/** How tree `actual` differs from `expected` (both as contentIndex sees them), in path order. */
export function indexDifferences(expected: EntryIndex, actual: EntryIndex): IndexDifference[] {
  const want = contentIndex(expected);
  const got = contentIndex(actual);
  const out: IndexDifference[] = [];
  for (const path of [...new Set([...want.keys(), ...got.keys()])].sort(byUtf8)) {
    const w = want.get(path);
    const g = got.get(path);
    if (!g) out.push({ path, what: "missing", expected: w!.type });
    else if (!w) out.push({ path, what: "unexpected", actual: g.type });
    else if (w.type !== g.type) out.push({ path, what: "type", expected: w.type, actual: g.type });
    else if (w.mode !== g.mode)
      out.push({ path, what: "mode", expected: w.mode.toString(8), actual: g.mode.toString(8) });
    else if (w.type === "symlink" && w.digest !== g.digest)
      out.push({ path, what: "target", expected: w.digest, actual: g.digest });
    else if (w.type === "file" && w.digest !== g.digest)
      out.push({ path, what: "content", expected: w.digest, actual: g.digest });
  }
  return out;
}
