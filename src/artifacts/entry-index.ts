/**
 * An index of a layer's entries (path → type, mode, size, content digest), built from a prefix on
 * disk or from an artifact. Diffs and deltas compare two indexes; mtimes are left out on purpose,
 * since every rebuild touches them and they say nothing about content.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
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
      index.set(e.rel, { type: "file", mode: e.mode, size, digest });
    } else {
      index.set(e.rel, { type: e.type, mode: e.mode, size: 0, digest: e.linkTarget ?? "" });
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

/** Index an artifact while verifying it; a rejected artifact is a ValidationError. */
export async function indexArtifact(
  path: string,
  opts: IndexArtifactOptions = {},
): Promise<{ index: EntryIndex; report: VerifyReport }> {
  const index: EntryIndex = new Map();
  let topDir = "";
  const report = await verifyArtifact(path, {
    // Indexing is not a gate: setuid members are allowed here; verify and publish decide.
    allowSetuid: [],
    onMember: async (h, content) => {
      const name = h.type === "directory" ? h.name.replace(/\/$/, "") : h.name;
      if (!topDir) topDir = name.split("/").slice(0, 4).join("/");
      const rel = name === topDir ? "" : name.slice(topDir.length + 1);
      const mode = (h.mode ?? 0) & 0o7777;
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
        index.set(rel, { type: "file", mode, size, digest });
      } else if (h.type === "link") {
        const target = (h.linkname ?? "").slice(topDir.length + 1);
        index.set(rel, { type: "hardlink", mode, size: 0, digest: target });
      } else if (h.type === "symlink") {
        index.set(rel, { type: "symlink", mode, size: 0, digest: h.linkname ?? "" });
      } else if (h.type === "directory") {
        index.set(rel, { type: "directory", mode, size: 0, digest: "" });
      }
    },
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
