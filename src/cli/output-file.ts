/** Writing a command's result: to stdout, or atomically to a file (`-o FILE`). */
import { randomBytes } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { InputError, isSystemError, systemReason } from "../errors.js";

/**
 * Write `text` to `file` through a temporary file in the same directory and a rename, so the
 * file is either the old one or the complete new one; without `file`, write to stdout.
 */
export async function writeResult(text: string, file?: string): Promise<void> {
  if (file === undefined || file === "-") {
    process.stdout.write(text);
    return;
  }
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    if (!isSystemError(e)) throw e;
    // the temporary file is what failed: name the directory or the file the user gave
    const where = e.code === "EISDIR" ? file : `the directory ${dirname(file)}`;
    throw new InputError(`cannot write ${file}: ${systemReason(e.code, where)}`, {
      cause: e,
      hint: "give -o a file in an existing, writable directory, or leave -o out to print to stdout",
    });
  }
}
