/**
 * What packing writes before its result appears under its name: `.<name>.partial-<pid>` (the
 * artifact, manifest or signature being written), `.<name>.fifo-<pid>` (the pipe to the
 * compressor) and `.delta-work-<pid>-XXXXXX/` (a delta's base files and patches). The pid says
 * whose it is, so `compat prune` can tell what a killed pack left from what a running one writes.
 */
import { basename, dirname, join } from "node:path";

/** The partial file (or FIFO) of `path` that this process writes. */
export function partialPath(path: string, kind: "partial" | "fifo"): string {
  return join(dirname(path), `.${basename(path)}.${kind}-${process.pid}`);
}

/** The prefix of a delta's scratch directory made by this process (mkdtemp adds six characters). */
export function deltaWorkPrefix(dir: string): string {
  return join(dir, `.delta-work-${process.pid}-`);
}

const PARTIAL_RE = /^\.(.+)\.(partial|fifo)-(\d+)$/;
const DELTA_WORK_RE = /^\.delta-work-(\d+)-[A-Za-z0-9]{6}$/;

/** Whose a directory entry left by packing is, and what it is; undefined for anything else. */
export function partialOwner(name: string): { pid: number; of: string } | undefined {
  const m = PARTIAL_RE.exec(name);
  if (m)
    return {
      pid: Number(m[3]),
      of: `${m[2] === "fifo" ? "the pipe to the compressor of" : "an unfinished"} ${m[1]}`,
    };
  const d = DELTA_WORK_RE.exec(name);
  if (d) return { pid: Number(d[1]), of: "a delta's scratch directory" };
  return undefined;
}
