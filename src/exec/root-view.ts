/**
 * A build root seen as the sandbox's `/`: its top-level entries bound read-only (directories and
 * files) or re-created (symlinks, such as usrmerge's `/bin -> usr/bin`), none of the host's.
 *
 * The sandbox then mounts things on top (a tmpfs at /var/tmp, the run's work directory at its host
 * path, /etc/passwd of the build user, the host's /etc/resolv.conf). A build root is read-only, so
 * a mount point it lacks cannot be made in it: the directory that would hold it is "mirrored"
 * instead (a tmpfs, its entries bound one by one, made read-only again once everything is
 * mounted), as bwrap's own `/` is. bwrap resolves a mount point's path while the host is still
 * reachable, so a mount point is never reached through a symlink of the build root: a symlink in
 * the middle of the path is refused, one at its end is left out of the mirrored directory and the
 * mount takes its place.
 *
 *   rootViewArgs("/var/lib/compat/buildroots/ab12…", [{ path: "/etc/hosts", kind: "file" }])
 *   // { args: ["--tmpfs", "/etc", "--ro-bind", "<root>/etc/adduser.conf", "/etc/adduser.conf", …],
 *   //   readOnlyAgain: ["/etc"] }
 */
import { type Dirent, lstatSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { posix } from "node:path";
import { InputError } from "../errors.js";

/** Where the sandbox will mount something, and whether a directory or a file goes there. */
export interface MountPoint {
  path: string;
  kind: "dir" | "file";
}

export interface RootView {
  /** bwrap arguments that build `/` from the build root (before any other mount). */
  args: string[];
  /** Mirrored directories (tmpfs) to remount read-only after every mount is made, `/` included. */
  readOnlyAgain: string[];
  /** The build root's real path. */
  root: string;
}

type Kind = "dir" | "file" | "symlink" | "other" | "missing";

function kindAt(p: string): { kind: Kind; target?: string } {
  let d: ReturnType<typeof lstatSync>;
  try {
    d = lstatSync(p);
  } catch {
    return { kind: "missing" };
  }
  if (d.isSymbolicLink()) return { kind: "symlink", target: readlinkSync(p) };
  if (d.isDirectory()) return { kind: "dir" };
  if (d.isFile()) return { kind: "file" };
  return { kind: "other" };
}

function buildRootProblem(root: string, message: string, hint?: string): InputError {
  return new InputError(`build root ${root}: ${message}`, {
    hint:
      hint ??
      "a build root compat made has real directories there: remove it (compat buildroot prune) and build it again",
  });
}

/**
 * The bwrap arguments that make `/` from `rootDir`, given every mount point the sandbox will add.
 * `own` are top-level names the sandbox makes itself (proc, dev, tmp, cvmfs): the build root's
 * entries of those names are never used, whatever they are.
 */
export function rootViewArgs(
  rootDir: string,
  mountPoints: readonly MountPoint[],
  own: ReadonlySet<string>,
): RootView {
  let root: string;
  try {
    root = realpathSync(rootDir);
  } catch (e) {
    throw new InputError(`build root ${rootDir} cannot be used: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  if (kindAt(root).kind !== "dir") throw new InputError(`build root ${rootDir} is not a directory`);
  if (root === "/")
    throw new InputError("the host's / cannot be a build root", {
      hint: "a build root is a directory compat made (compat buildroot build)",
    });

  /** Directories (relative, "" = /) to make a tmpfs of and fill entry by entry. */
  const mirrored = new Set<string>([""]);
  /** Entries of mirrored directories left out: a mount takes their place. */
  const replaced = new Set<string>();
  const mirrorWithParents = (rel: string) => {
    for (let d = rel; d !== "." && d !== ""; d = posix.dirname(d)) mirrored.add(d);
  };

  for (const mp of mountPoints) {
    const parts = posix.normalize(mp.path).split("/").filter(Boolean);
    if (parts.length === 0 || own.has(parts[0]!)) continue;
    let rel = "";
    for (let i = 0; i < parts.length; i++) {
      const next = rel ? `${rel}/${parts[i]}` : parts[i]!;
      const at = kindAt(posix.join(root, next));
      const last = i === parts.length - 1;
      if (last) {
        // an entry of the wrong kind (a symlink included) is replaced by the mount
        if (at.kind !== mp.kind) {
          mirrorWithParents(rel);
          if (at.kind !== "missing") replaced.add(next);
        }
        break;
      }
      if (at.kind === "missing") {
        mirrorWithParents(rel);
        break;
      }
      if (at.kind === "symlink")
        throw buildRootProblem(
          root,
          `/${next} is a symlink (to ${at.target}), and ${mp.path} would be mounted through it`,
          "a bind's destination must be a path of real directories in the build root: choose another destination",
        );
      if (at.kind !== "dir")
        throw buildRootProblem(root, `/${next} is not a directory, and ${mp.path} would be mounted below it`);
      rel = next;
    }
  }

  const args: string[] = [];
  const fill = (rel: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(posix.join(root, rel), { withFileTypes: true });
    } catch (e) {
      throw buildRootProblem(root, `cannot read /${rel}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    for (const d of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if ((rel === "" && own.has(d.name)) || replaced.has(p)) continue;
      const src = posix.join(root, p);
      const dest = `/${p}`;
      if (d.isSymbolicLink()) args.push("--symlink", readlinkSync(src), dest);
      else if (d.isDirectory() && mirrored.has(p)) {
        args.push("--tmpfs", dest);
        fill(p);
      } else if (d.isDirectory() || d.isFile()) args.push("--ro-bind", src, dest);
      // sockets, fifos and devices of a build root are not needed by a build: left out
    }
  };
  fill("");
  // deepest first, `/` last
  const depth = (r: string) => (r === "" ? 0 : r.split("/").length);
  const readOnlyAgain = [...mirrored]
    .sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1))
    .map((r) => `/${r}`);
  return { args, readOnlyAgain, root };
}
