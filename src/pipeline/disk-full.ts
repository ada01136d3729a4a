/**
 * A build that failed because a file system filled up says so in its headline, with the file
 * system, rather than leaving it to the log's tail ("unshare failed with exit status 25"): the
 * cause is ENOSPC (or EDQUOT) from compat itself, or a tool's "No space left on device" in the
 * failing stage's log.
 */
import { isSystemError } from "../errors.js";
import { describeFileSystem, type FileSystemInfo, fileSystemOf } from "../exec/disk.js";

/** A file system with less than this free (or under 2 %) counts as the one that filled up. */
const NEARLY_FULL_BYTES = 64 * 2 ** 20;

const FULL_IN_LOG = /No space left on device|Disk quota exceeded|ENOSPC|EDQUOT/i;

/** Whether `error` or the log lines say that a file system filled up: `ENOSPC`, `EDQUOT`, or undefined. */
export function diskFullCode(error: unknown, logLines: readonly string[]): "ENOSPC" | "EDQUOT" | undefined {
  const code = isSystemError(error) ? error.code : undefined;
  if (code === "ENOSPC" || code === "EDQUOT") return code;
  const text = [error instanceof Error ? error.message : "", ...logLines].join("\n");
  const m = FULL_IN_LOG.exec(text);
  if (!m) return undefined;
  return /quota|EDQUOT/i.test(m[0]) ? "EDQUOT" : "ENOSPC";
}

/** The file systems of `paths`, each once, the fullest (least free by share) first. */
export function fileSystemsOf(paths: readonly string[]): FileSystemInfo[] {
  const byMount = new Map<string, FileSystemInfo>();
  for (const p of paths) {
    const fs = fileSystemOf(p);
    if (fs && fs.size > 0) byMount.set(fs.mountPoint, fs);
  }
  return [...byMount.values()].sort((a, b) => a.available / a.size - b.available / b.size);
}

/**
 * The headline of a build that failed for lack of space, naming the file systems the build
 * writes (`paths`), fullest first: `no space left on device (ENOSPC) on /srv (ext4 on /dev/sdb1):
 * 0 B free of 20 GiB`. Undefined when neither the error nor the log says so.
 */
export function diskFullHeadline(
  error: unknown,
  logLines: readonly string[],
  paths: readonly string[],
): string | undefined {
  const code = diskFullCode(error, logLines);
  if (!code) return undefined;
  const what = code === "EDQUOT" ? "disk quota exceeded (EDQUOT)" : "no space left on device (ENOSPC)";
  const systems = fileSystemsOf(paths);
  // The full ones, when some still are (a tool may have removed what it wrote before it exited).
  const full = systems.filter((fs) => fs.available < NEARLY_FULL_BYTES || fs.available / fs.size < 0.02);
  const named = full.length > 0 ? full : systems;
  return named.length === 0 ? what : `${what} on ${named.map(describeFileSystem).join("; or on ")}`;
}
