/**
 * Moving a finished layer into place. A layer is built aside, in a work directory beside its
 * prefix path; only when every stage passed is it renamed to the prefix path. A layer already
 * there is kept as the hidden sibling `.<arch>-NNN` (NNN = the last suffix + 1, three digits), as
 * EESSI's ingest-tarball.sh keeps the layer it replaces. Each rename is atomic; the intent is
 * written first, so a build killed between the two renames finishes the move when resumed.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { InputError } from "../errors.js";
import { unmountUnder } from "../exec/mounts.js";
import { writeJsonAtomic } from "./run-dir.js";

/** `.x86_64-001` for the first kept layer of `x86_64`, then `-002` … */
export function nextKeptName(parentDir: string, name: string): string {
  const re = new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d{3,})$`);
  let last = 0;
  for (const e of existsSync(parentDir) ? readdirSync(parentDir) : []) {
    const m = re.exec(e);
    if (m) last = Math.max(last, Number(m[1]));
  }
  return `.${name}-${String(last + 1).padStart(3, "0")}`;
}

function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

interface Intent {
  built: string;
  target: string;
  /** Where the previous layer was (or is being) moved; null when there was none. */
  previous: string | null;
}

/**
 * Put the built prefix at `target`. Re-runnable after an interruption at any point. Returns the
 * path the previous layer was moved to, if there was one.
 */
export async function activateLayer(
  built: string,
  target: string,
  intentFile: string,
): Promise<string | undefined> {
  let intent: Intent | undefined;
  try {
    intent = JSON.parse(readFileSync(intentFile, "utf8")) as Intent;
  } catch {
    intent = undefined;
  }
  if (!present(built)) {
    // Only a completed move takes the built tree away.
    if (intent && present(target)) return intent.previous ?? undefined;
    // removed behind the build's back (by hand, or compat prune of an abandoned run)
    throw new InputError(`the built layer ${built} is missing; cannot move it to ${target}`, {
      hint: "start a new build (without --resume)",
    });
  }
  if (present(target)) {
    const previous = join(dirname(target), nextKeptName(dirname(target), basename(target)));
    intent = { built, target, previous };
    await writeJsonAtomic(intentFile, intent);
    await rename(target, previous);
  } else if (!intent) {
    intent = { built, target, previous: null };
    await writeJsonAtomic(intentFile, intent);
  }
  await rename(built, target);
  return intent.previous ?? undefined;
}

/** Remove a build's work directory (what remains of it after the move). */
export async function removeWorkDir(workDir: string): Promise<void> {
  await unmountUnder(workDir);
  await rm(workDir, { recursive: true, force: true, maxRetries: 3 });
}
