/**
 * Text relocation of packages whose scripts name absolute paths (relocation.md §6.5): every `/usr/…`
 * and `/etc/…` in the text files of a package becomes `<prefix>/usr/…`, `<prefix>/etc/…`. Lmod needs
 * it (init scripts, LMOD_PKG, the Lua package.path/cpath in libexec/lmod); glibc's `ldd` needs its
 * RTLDLIST re-pointed.
 *
 *   await relocatePackageText({ treeDir, prefix, packages: ["lmod"] })  → { files: 42, substitutions: 296, … }
 *   await relocateLdd({ treeDir, prefix })
 *
 * A package's files come from dpkg's list (var/lib/dpkg/info/<package>[:<arch>].list); binary files
 * (a NUL in the first 8 KiB), symlinks and /usr/share/doc are skipped. A path already under the
 * prefix is not matched again, so running twice changes nothing.
 */
import { existsSync } from "node:fs";
import { lstat, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { resolveInside } from "../paths/inside.js";

export interface TextRelocationReport {
  packages: string[];
  /** Packages named but not installed in the tree. */
  notInstalled: string[];
  files: number;
  substitutions: number;
  /** Relative paths of the files changed. */
  changed: string[];
}

/** `/usr/` or `/etc/` at the start of a path: not preceded by a character that can be part of a path. */
const HOST_PATH_RE = /(^|[^\w./~+\-})$\]])(\/(?:usr|etc)\/)/gm;

/** Rewrite the absolute /usr and /etc paths of one text; returns the text and the number of substitutions. */
export function relocateText(text: string, prefix: string): { text: string; substitutions: number } {
  let substitutions = 0;
  const out = text.replace(HOST_PATH_RE, (_m, before: string, path: string) => {
    substitutions++;
    return `${before}${prefix}${path}`;
  });
  return { text: out, substitutions };
}

async function packageFiles(treeDir: string, pkg: string): Promise<string[] | undefined> {
  const info = join(treeDir, "var/lib/dpkg/info");
  const names = existsSync(info) ? await readdir(info) : [];
  const list = names.find((n) => n === `${pkg}.list` || (n.startsWith(`${pkg}:`) && n.endsWith(".list")));
  if (!list) return undefined;
  return (await readFile(join(info, list), "utf8"))
    .split("\n")
    .filter((l) => l.startsWith("/") && l !== "/.");
}

export async function relocatePackageText(opts: {
  treeDir: string;
  prefix: string;
  packages: readonly string[];
}): Promise<TextRelocationReport> {
  const report: TextRelocationReport = {
    packages: [...opts.packages],
    notInstalled: [],
    files: 0,
    substitutions: 0,
    changed: [],
  };
  for (const pkg of opts.packages) {
    const files = await packageFiles(opts.treeDir, pkg);
    if (!files) {
      report.notInstalled.push(pkg);
      continue;
    }
    for (const f of files) {
      if (f.startsWith("/usr/share/doc/")) continue;
      // a name from dpkg's list, followed through the tree's links as the layer sees them, never out
      const abs = resolveInside(
        { base: opts.treeDir, mountedAt: opts.prefix, what: `a file of ${pkg} (dpkg's list)` },
        f.slice(1),
        { followLast: false },
      );
      let st: Awaited<ReturnType<typeof lstat>>;
      try {
        st = await lstat(abs);
      } catch {
        continue; // excluded by dpkg's path filters
      }
      if (!st.isFile()) continue;
      const buf = await readFile(abs);
      if (buf.subarray(0, 8192).includes(0)) continue;
      report.files++;
      const r = relocateText(buf.toString("utf8"), opts.prefix);
      if (r.substitutions === 0) continue;
      await writeFile(abs, r.text);
      report.substitutions += r.substitutions;
      report.changed.push(f.slice(1));
    }
  }
  return report;
}

/** Point glibc's `ldd` at the prefix's loaders (its RTLDLIST). Returns false when there is no ldd. */
export async function relocateLdd(opts: { treeDir: string; prefix: string }): Promise<boolean> {
  const ldd = join(opts.treeDir, "usr/bin/ldd");
  if (!existsSync(ldd)) return false;
  const text = await readFile(ldd, "utf8");
  const out = text.replace(/^RTLDLIST="([^"]*)"/m, (_m, list: string) => {
    const entries = list
      .split(/\s+/)
      .filter(Boolean)
      .map((e) => (e.startsWith(`${opts.prefix}/`) ? e : `${opts.prefix}${e}`));
    return `RTLDLIST="${entries.join(" ")}"`;
  });
  if (out !== text) await writeFile(ldd, out);
  return true;
}

/**
 * Debian's etc/lmod/modulespath puts Lmod's own modulefiles directory on MODULEPATH, so `module avail`
 * shows `Core/lmod Core/settarg`; Gentoo's Lmod (and EESSI's Lmod check, which looks for
 * `lmod settarg`) has the `Core` directory itself there. Use the Core directory, as Gentoo does.
 * Returns whether the file was changed.
 */
export async function useLmodCoreModulePath(opts: { treeDir: string; prefix: string }): Promise<boolean> {
  const file = join(opts.treeDir, "etc/lmod/modulespath");
  const core = "usr/share/lmod/lmod/modulefiles/Core";
  if (!existsSync(file) || !existsSync(join(opts.treeDir, core))) return false;
  const text = await readFile(file, "utf8");
  const dir = `${opts.prefix}/usr/share/lmod/lmod/modulefiles`;
  const out = text.replace(
    new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/?$`, "m"),
    `${opts.prefix}/${core}`,
  );
  if (out === text) return false;
  await writeFile(file, out);
  return true;
}
