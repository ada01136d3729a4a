/**
 * Writing the files a layer plan lists (flavors/plan.ts) into a prefix being built: `replace`
 * writes the content, `add-lines` appends each line the file does not have yet (Ansible's
 * lineinfile, as EESSI writes locale.gen). Both are idempotent, so a rerun stage may write again.
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ensureLine } from "../gentoo/config/portage-files.js";
import type { PlannedFile } from "./plan.js";

export async function applyPlannedFile(prefixDir: string, path: string, file: PlannedFile): Promise<void> {
  const full = join(prefixDir, path);
  await mkdir(dirname(full), { recursive: true });
  let content = file.content;
  if (file.apply === "add-lines") {
    let current = "";
    try {
      current = await readFile(full, "utf8");
    } catch {
      /* a new file */
    }
    content = current;
    for (const line of file.content.split("\n").filter((l) => l !== "")) content = ensureLine(content, line);
  }
  await writeFile(full, content);
  await chmod(full, Number.parseInt(file.mode, 8));
}

/** Apply every planned file whose path passes the filter; returns the paths written. */
export async function applyPlannedFiles(
  prefixDir: string,
  files: Record<string, PlannedFile>,
  include: (path: string) => boolean,
): Promise<string[]> {
  const written: string[] = [];
  for (const [path, f] of Object.entries(files)) {
    if (!include(path)) continue;
    await applyPlannedFile(prefixDir, path, f);
    written.push(path);
  }
  return written;
}
