/**
 * Writing the files a layer plan lists (flavors/plan.ts) into a prefix being built: `replace`
 * writes the content, `add-lines` appends each line the file does not have yet (Ansible's
 * lineinfile, as EESSI writes locale.gen). Both are idempotent, so a rerun stage may write again.
 *
 * Stages write from outside the sandbox, so every write goes through src/paths/inside.ts: a path
 * that is not below the prefix, or a symlink in the prefix that leads out of it (a host link made
 * from the spec), is refused before anything is written.
 */
import { readFile } from "node:fs/promises";
import { ensureLine } from "../gentoo/config/portage-files.js";
import { type Confinement, resolveInside, writeFileInside } from "../paths/inside.js";
import type { PlannedFile } from "./plan.js";
import type { StageContext } from "./types.js";

/** The prefix being built, as the place nothing a stage writes may leave. */
export function prefixConfinement(
  ctx: Pick<StageContext, "prefixDir" | "layer">,
  what = "a path in the prefix being built",
): Confinement {
  return { base: ctx.prefixDir, mountedAt: ctx.layer.prefix, what };
}

export async function applyPlannedFile(into: Confinement, path: string, file: PlannedFile): Promise<void> {
  const c = { ...into, what: `${file.from} (${path})` };
  let content = file.content;
  if (file.apply === "add-lines") {
    let current = "";
    try {
      current = await readFile(resolveInside(c, path), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    content = current;
    for (const line of file.content.split("\n").filter((l) => l !== "")) content = ensureLine(content, line);
  }
  await writeFileInside(c, path, content, Number.parseInt(file.mode, 8));
}

/** Apply every planned file whose path passes the filter; returns the paths written. */
export async function applyPlannedFiles(
  into: Confinement,
  files: Record<string, PlannedFile>,
  include: (path: string) => boolean,
): Promise<string[]> {
  const written: string[] = [];
  for (const [path, f] of Object.entries(files)) {
    if (!include(path)) continue;
    await applyPlannedFile(into, path, f);
    written.push(path);
  }
  return written;
}
