/**
 * Mounts left under a directory. mmdebstrap in root mode mounts /proc, /sys, /dev/pts and
 * /dev/shm into the tree it builds and unmounts them when it finishes; killed (SIGKILL of the
 * build), it leaves them. A recursive delete of that tree then fails with EBUSY, or worse, walks
 * into what the mount shows. Whatever removes a build tree unmounts what is under it first.
 *
 *   mountsUnder("/x/.build-run/rootfs")   // ["/x/.build-run/rootfs/dev/pts", "/x/.build-run/rootfs/proc", …] deepest first
 *   await unmountUnder(dir)                // umount --lazy each of them; returns what it unmounted
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { run } from "./run.js";

/** `\040` and the other octal escapes the kernel writes for spaces, tabs, newlines and `\` in mountinfo. */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Mount points at or below `dir` in a mountinfo text (proc(5)), deepest first. */
export function mountsUnder(dir: string, mountinfo = readFileSync("/proc/self/mountinfo", "utf8")): string[] {
  const base = resolve(dir);
  const found = new Set<string>();
  for (const line of mountinfo.split("\n")) {
    const mountPoint = line.split(" ")[4];
    if (mountPoint === undefined) continue;
    const path = unescapeMountPath(mountPoint);
    if (path === base || path.startsWith(`${base}/`)) found.add(path);
  }
  return [...found].sort((a, b) => b.length - a.length || (a < b ? 1 : -1));
}

/** Unmount everything mounted at or below `dir` (lazily: a busy mount goes when its last user does). */
export async function unmountUnder(dir: string): Promise<string[]> {
  const done: string[] = [];
  // several mounts may be stacked on one path: look again until nothing is left
  for (let round = 0; round < 8; round++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) break;
    for (const m of mounts) {
      await run("umount", ["--lazy", m]);
      done.push(m);
    }
  }
  return done;
}
