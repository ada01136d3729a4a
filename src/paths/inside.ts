/**
 * Writing below a directory on disk without leaving it through a symlink. A prefix being built
 * holds links made from a spec (host links point at the host on purpose) and links a package
 * ships; compat writes into it from outside the sandbox, as the caller (root for the debian
 * flavor). `$EPREFIX/etc -> /etc` followed by a write of `etc/portage/package.env` must not
 * write the host's /etc.
 *
 * How: every component below the base is looked at with lstat and each symlink is followed here,
 * the way a process that sees the base at `mountedAt` (the layer at its real prefix path, as in
 * the sandbox) would follow it: a relative target from where the link is, an absolute one under
 * `mountedAt` from the base; one that leads anywhere else (the host, above the base) is refused
 * with an UnsafePathError naming the link. What does not exist yet is created below the resolved
 * directory, as a directory, never through a link, and a file is opened with O_NOFOLLOW.
 *
 * Why this and not realpath(parent) and a prefix compare: realpath follows an absolute link on the
 * host (a relocated layer's links point at /cvmfs/…, which on a CVMFS client or a stratum 0 is a
 * real, other directory), so the answer would depend on the host; and it cannot say which link led
 * out. Why not refuse every symlink (lstat only): a layer's own relative links (lib64 -> lib,
 * Debian's usr-merge bin -> usr/bin) are legitimate parents of what we write. The walk is checked,
 * then the write happens: a process racing to swap a directory for a link in between is not
 * defended against (nothing else writes into a prefix while its build runs; the sandboxed stages
 * run one at a time).
 */
import { constants, lstatSync, readlinkSync } from "node:fs";
import { mkdir, open, rm } from "node:fs/promises";
import { posix } from "node:path";
import { InputError } from "../errors.js";
import { isInside, safeRelative, UnsafePathError } from "./rules.js";

const MAX_LINKS = 40;

export interface Confinement {
  /** The directory nothing may leave, as it is on this machine. */
  base: string;
  /** Where the base is seen by the programs that made its links (a prefix's real path); default: the base. */
  mountedAt?: string;
  /** The value's name in errors (`gentoo.packageEnvFiles key`, `host link` …). */
  what: string;
}

export interface ResolveOptions {
  /** Follow a symlink in the last component too (default true: a write lands where the link points). */
  followLast?: boolean;
}

/**
 * Where `rel` is on disk below `c.base`, every symlink on the way followed inside the base;
 * components that do not exist are appended as they are. Throws an UnsafePathError when `rel` is
 * not a safe relative path or a link leads out, an InputError for a link loop or a component that
 * is not a directory.
 */
export function resolveInside(c: Confinement, rel: string, opts: ResolveOptions = {}): string {
  const followLast = opts.followLast ?? true;
  const mountedAt = posix.normalize(c.mountedAt ?? c.base);
  const queue = safeRelative(rel, c.what).split("/");
  const done: string[] = [];
  let missing = false;
  let links = 0;
  const shown = () => (done.length === 0 ? "." : done.join("/"));
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (done.length === 0)
        throw new UnsafePathError(c.what, rel, {
          rule: "outside",
          message: `leads above ${c.base} through a symlink's ".."`,
        });
      done.pop();
      continue;
    }
    if (missing) {
      done.push(part);
      continue;
    }
    const here = posix.join(c.base, ...done, part);
    const st = lstatOrUndefined(here, () => `${rel}: ${shown()}/${part} is not a directory`);
    if (!st) {
      missing = true;
      done.push(part);
      continue;
    }
    if (st.isSymbolicLink() && (queue.length > 0 || followLast)) {
      if (++links > MAX_LINKS)
        throw new InputError(
          `${c.what}: ${rel}: too many levels of symbolic links (at ${[...done, part].join("/")})`,
        );
      const target = readlinkSync(here, "utf8");
      if (target.startsWith("/")) {
        // compared as written: a ".." after the mount point is followed below (and refused above the base)
        if (!isInside(target, mountedAt))
          throw new UnsafePathError(c.what, rel, {
            rule: "outside",
            message: `leads through the symlink ${[...done, part].join("/")} -> ${target}, outside ${mountedAt}`,
          });
        done.length = 0;
        queue.unshift(...target.slice(mountedAt.length).split("/"));
      } else queue.unshift(...target.split("/"));
      continue;
    }
    done.push(part);
  }
  return done.length === 0 ? c.base : posix.join(c.base, ...done);
}

function lstatOrUndefined(path: string, notDir: () => string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ENOTDIR") throw new InputError(notDir());
    throw e;
  }
}

/** mkdir -p of `rel` below the base, never through a link that leads out; returns the directory. */
export async function mkdirInside(c: Confinement, rel: string): Promise<string> {
  const dir = resolveInside(c, rel);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Write a file at `rel` below the base (its directories made as needed); a symlink there is
 * followed only while it stays inside. Returns where the file is.
 */
export async function writeFileInside(
  c: Confinement,
  rel: string,
  data: string | Uint8Array,
  mode = 0o644,
): Promise<string> {
  const file = resolveInside(c, rel);
  await mkdir(posix.dirname(file), { recursive: true });
  const fh = await open(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    mode,
  ).catch((e: NodeJS.ErrnoException) => {
    const why: Record<string, string> = {
      EISDIR: "a directory is there",
      ELOOP: "a symlink appeared there while it was being written",
    };
    if (e.code && Object.hasOwn(why, e.code))
      throw new InputError(`${c.what}: cannot write ${rel}: ${why[e.code]}`);
    throw e;
  });
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
  return file;
}

/** Read the file at `rel` below the base, never through a link that leads out. */
export async function readFileInside(
  c: Confinement,
  rel: string,
): Promise<{ path: string; content: Buffer }> {
  const path = resolveInside(c, rel);
  // O_NONBLOCK: a FIFO there must not block the open for ever
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!(await fh.stat()).isFile())
      throw new InputError(`${c.what}: ${rel} is not a plain file`, {
        hint: "give a regular file inside the directory",
      });
    return { path, content: await fh.readFile() };
  } finally {
    await fh.close();
  }
}

/** rm -rf of the entry at `rel` below the base (a link itself, not what it points at). */
export async function removeInside(c: Confinement, rel: string): Promise<string> {
  const path = resolveInside(c, rel, { followLast: false });
  await rm(path, { recursive: true, force: true });
  return path;
}
