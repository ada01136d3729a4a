/**
 * A writable overlay (the kernel's overlayfs) over a read-only layer: what EESSI's `build_type:
 * update` does with a union mount over the live layer. The lower layer is never written; every
 * change lands in the upper dir (deletions as whiteouts); the merged view at the mount point is
 * the updated layer. Needs root (mounting); bubblewrap 0.8 (Debian 12) has no --overlay.
 *
 *   await mountOverlay({ lower, upper, work, merged })   // idempotent: an existing mount is kept
 *   isMountPoint(merged)                                  // true
 *   await unmountOverlay(merged)
 *
 * The mount is on the host, so it outlives a killed process; whoever resumes or removes the work
 * directory finds it (mounts.ts: unmountUnder) before touching the tree.
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { InputError } from "../errors.js";
import { mountsUnder } from "./mounts.js";
import { run } from "./run.js";

export interface OverlayDirs {
  /** The read-only layer underneath. */
  lower: string;
  /** Where changes go (same file system as `work`). */
  upper: string;
  /** overlayfs's own scratch directory. */
  work: string;
  /** The mount point: the merged view. */
  merged: string;
}

/** The `-o` value for mount(8); InputError for a path overlayfs cannot take in its options. */
export function overlayOptions(d: OverlayDirs): string {
  const parts = { lowerdir: d.lower, upperdir: d.upper, workdir: d.work };
  // ',' separates options, ':' lower dirs and '\' escapes: such a path would mean something else
  for (const [k, p] of Object.entries(parts))
    if (/[,:\\\n]/.test(p))
      throw new InputError(
        `the overlay's ${k} ${p} holds a ',', ':', '\\' or a newline, which mount options cannot carry`,
        {
          hint: "use a state directory whose path has none of them",
        },
      );
  return Object.entries(parts)
    .map(([k, p]) => `${k}=${resolve(p)}`)
    .join(",");
}

export function isMountPoint(path: string): boolean {
  return mountsUnder(path).includes(resolve(path));
}

/** Mount the overlay at `merged` unless it is mounted there already. */
export async function mountOverlay(d: OverlayDirs, signal?: AbortSignal): Promise<void> {
  const options = overlayOptions(d);
  if (process.getuid?.() !== 0)
    throw new InputError("mounting the update's overlay needs root", {
      hint: "run compat update as root (for example with sudo)",
    });
  if (isMountPoint(d.merged)) return;
  for (const dir of [d.upper, d.work, d.merged]) await mkdir(dir, { recursive: true });
  await run("mount", ["-t", "overlay", "overlay", "-o", options, resolve(d.merged)], { signal });
}

export async function unmountOverlay(merged: string): Promise<void> {
  if (isMountPoint(merged)) await run("umount", [resolve(merged)]);
}
