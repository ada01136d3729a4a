/**
 * A git repository checked out at a pinned commit, the way EESSI's sync_git_overlay.yml does it:
 * a shallow clone of the branch, a shallow fetch of the commit, a checkout of the commit. Run
 * again, it does nothing when the checkout is already at the commit, and starts over when it is
 * not (a half clone left by a killed build included).
 */
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { StageContext } from "../types.js";

export interface PinnedCheckout {
  url: string;
  /** Branch cloned first (default: the remote's HEAD). */
  branch?: string;
  /** Commit to check out; without it the checkout follows the branch head. */
  commit?: string;
  /** Local directory. */
  dir: string;
}

export async function headCommit(ctx: Pick<StageContext, "run">, dir: string): Promise<string | undefined> {
  if (!existsSync(`${dir}/.git`)) return undefined;
  try {
    return (await ctx.run("git", ["-C", dir, "rev-parse", "HEAD"])).stdout.trim();
  } catch {
    return undefined;
  }
}

/** Clone and pin; returns the commit checked out. */
export async function checkoutPinned(
  ctx: Pick<StageContext, "run" | "note">,
  c: PinnedCheckout,
): Promise<string> {
  const head = await headCommit(ctx, c.dir);
  if (head !== undefined && c.commit !== undefined && head.startsWith(c.commit)) {
    ctx.note(`${c.dir} is already at ${c.commit}`);
    return head;
  }
  await rm(c.dir, { recursive: true, force: true });
  await mkdir(dirname(c.dir), { recursive: true });
  ctx.note(`cloning ${c.url}${c.branch ? ` (${c.branch})` : ""}`);
  await ctx.run("git", [
    "clone",
    "--depth",
    "1",
    ...(c.branch ? ["--branch", c.branch] : []),
    "--",
    c.url,
    c.dir,
  ]);
  if (c.commit !== undefined) {
    ctx.note(`fetching commit ${c.commit}`);
    await ctx.run("git", ["-C", c.dir, "fetch", "--depth", "1", "origin", c.commit]);
    await ctx.run("git", ["-C", c.dir, "-c", "advice.detachedHead=false", "checkout", "--quiet", c.commit]);
  }
  return (await headCommit(ctx, c.dir)) ?? "unknown";
}
