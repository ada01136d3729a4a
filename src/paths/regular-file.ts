/**
 * Reading a file that someone else wrote (a tests file from a pull request, a report the tested
 * software's run left, a cache): it may be a FIFO (opening it would block until a writer comes, so
 * it is opened with O_NONBLOCK and refused), a device, a symlink elsewhere (refused with
 * `noFollow`) or far larger than any such file is (refused before it is read); with `ownedBySelf`,
 * a file of another user or one others may write is refused (a cache whose content is trusted).
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from "node:fs";
import { open } from "node:fs/promises";

/** The text of the regular file at `path`, at most `max` bytes; throws (with `code` when the system gave one) otherwise. */
export async function readRegularFile(
  path: string,
  max: number,
  opts: { noFollow?: boolean; ownedBySelf?: boolean } = {},
): Promise<string> {
  const fh = await open(
    path,
    constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0),
  );
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error("not a regular file");
    if (st.size > max) throw new Error(`${st.size} bytes, more than the ${max} such a file may have`);
    // what decides a verdict must come from this user: not another's file, not one others may write
    if (opts.ownedBySelf && process.getuid && st.uid !== process.getuid())
      throw new Error(`owned by uid ${st.uid}, not by this user`);
    if (opts.ownedBySelf && (st.mode & 0o022) !== 0)
      throw new Error(`writable by others (mode ${(st.mode & 0o777).toString(8)})`);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/** readRegularFile for code that reads synchronously (no FIFO blocks it, nothing huge is read). */
export function readRegularFileSync(path: string, max: number, opts: { noFollow?: boolean } = {}): string {
  const fd = openSync(
    path,
    constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0),
  );
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error("not a regular file");
    if (st.size > max) throw new Error(`${st.size} bytes, more than the ${max} such a file may have`);
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * What is at `path` (symlinks followed): "file", "directory", "FIFO", "special file" or "missing".
 * Ask before reading a file synchronously by its name: opening a FIFO blocks until a writer comes.
 */
export function fileKind(path: string): "file" | "directory" | "FIFO" | "special file" | "missing" {
  try {
    const st = statSync(path);
    if (st.isFile()) return "file";
    if (st.isDirectory()) return "directory";
    if (st.isFIFO()) return "FIFO";
    return "special file";
  } catch {
    return "missing";
  }
}
