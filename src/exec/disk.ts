/**
 * Disk facts a person needs when space runs out: how much a tree holds (as `du` counts it: the
 * blocks it occupies, a hard-linked file once), which file system a path is on, and how full that
 * file system is.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync, statfsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { unescapeMountPath } from "./mounts.js";

/** Bytes in people's units (1024-based, as df -h and du -h print them): `1.2 GiB`, `312 MiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * The disk space a file or tree occupies (allocated blocks; each hard-linked inode once; symlinks
 * are not followed). Entries that vanish or cannot be read while it walks are skipped.
 */
export function diskUsage(path: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (p: string) => {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.nlink > 1 && !st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    total += st.blocks * 512;
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(p);
    } catch {
      return;
    }
    for (const name of names) walk(join(p, name));
  };
  walk(path);
  return total;
}

export interface FileSystemInfo {
  /** Where it is mounted, e.g. `/` or `/srv/build`. */
  mountPoint: string;
  /** `ext4`, `xfs`, `tmpfs` … */
  type: string;
  /** What is mounted: a device, or the type's name for virtual file systems. */
  source: string;
  /** Bytes available to unprivileged users, and the size, as df shows them. */
  available: number;
  size: number;
}

/** The nearest existing directory at or above `path`. */
function existingAncestor(path: string): string {
  let p = path;
  for (;;) {
    try {
      if (statSync(p).isDirectory()) return p;
    } catch {
      /* not there yet */
    }
    const up = dirname(p);
    if (up === p) return p;
    p = up;
  }
}

/**
 * The file system `path` (or its nearest existing ancestor) is on: the mount in
 * /proc/self/mountinfo whose device is the path's and whose mount point is its longest prefix.
 */
export function fileSystemOf(path: string, mountinfo?: string): FileSystemInfo | undefined {
  try {
    const dir = realpathSync(existingAncestor(path));
    const st = statSync(dir);
    const device = `${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)}`;
    let best: { mountPoint: string; type: string; source: string } | undefined;
    for (const line of (mountinfo ?? readFileSync("/proc/self/mountinfo", "utf8")).split("\n")) {
      const f = line.split(" ");
      const sep = f.indexOf("-");
      if (f.length < 10 || sep < 6) continue;
      const mountPoint = unescapeMountPath(f[4]!);
      const under = mountPoint === "/" || dir === mountPoint || dir.startsWith(`${mountPoint}/`);
      if (f[2] !== device || !under) continue;
      if (!best || mountPoint.length >= best.mountPoint.length)
        best = { mountPoint, type: f[sep + 1]!, source: unescapeMountPath(f[sep + 2]!) };
    }
    const fs = statfsSync(dir);
    return {
      mountPoint: best?.mountPoint ?? dir,
      type: best?.type ?? "unknown",
      source: best?.source ?? "unknown",
      available: fs.bavail * fs.bsize,
      size: fs.blocks * fs.bsize,
    };
  } catch {
    return undefined;
  }
}

/** `/srv/build (ext4 on /dev/sdb1): 12 MiB free of 20 GiB`. */
export function describeFileSystem(fs: FileSystemInfo): string {
  const on = fs.source !== fs.type && fs.source !== "none" ? ` on ${fs.source}` : "";
  return `${fs.mountPoint} (${fs.type}${on}): ${formatBytes(fs.available)} free of ${formatBytes(fs.size)}`;
}
