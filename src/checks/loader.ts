/**
 * The layer's dynamic loader: where it is, and where it looks for libraries that no RPATH or
 * RUNPATH finds (its cache and its system search path, as `ld.so --help` prints them).
 */
import { readdirSync } from "node:fs";
import { posix } from "node:path";
import { emulationFor } from "../exec/emulation.js";
import { run } from "../exec/run.js";
import { type LayerMount, runInLayer } from "../exec/sandbox.js";
import { getFlavor } from "../flavors/index.js";
import type { Arch } from "../layer/id.js";
import type { LayerFs } from "./layer-fs.js";

/** The loader's path relative to the prefix, per arch (the PT_INTERP every executable must have). */
export function loaderRel(arch: Arch): string {
  switch (arch) {
    case "x86_64":
      return "lib64/ld-linux-x86-64.so.2";
    case "aarch64":
      return "lib/ld-linux-aarch64.so.1";
    case "riscv64":
      return "lib/ld-linux-riscv64-lp64d.so.1";
    case "ppc64le":
      return "lib64/ld64.so.2";
  }
}

export interface LdSoHelp {
  /** The cache file the loader reads (`(libraries located via …)`), if it prints one. */
  cache?: string;
  /** `(system search path)` directories, in order. */
  systemDirs: string[];
}

/** Parse the "Shared library search path:" part of `ld.so --help` (glibc ≥ 2.33). */
export function parseLdSoHelp(text: string): LdSoHelp {
  const out: LdSoHelp = { systemDirs: [] };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const via = "(libraries located via ";
    if (line.startsWith(via) && line.endsWith(")")) out.cache = line.slice(via.length, -1);
    const marker = " (system search path)";
    if (line.endsWith(marker)) out.systemDirs.push(line.slice(0, -marker.length));
  }
  return out;
}

export interface LoaderInfo {
  /** The expected PT_INTERP: `$EPREFIX/<loaderRel(arch)>`. */
  path: string;
  /** Whether it exists in the layer (links followed). */
  exists: boolean;
  /** Directories the loader searches after RPATH/RUNPATH, in order (cache dirs, then system dirs). */
  searchDirs: string[];
  /** The loader's own system search path. */
  systemDirs: string[];
  cache?: string;
  /** How searchDirs was learnt: the command run, or the assumption made. */
  source: string;
}

/**
 * Learn the loader's search path by running it with `--help` (in the sandbox when the layer is not
 * at its real path). When it cannot run here (foreign arch, missing), fall back to what the
 * flavor's loader is built with, and say so.
 */
export async function inspectLoader(
  fs: LayerFs,
  arch: Arch,
  flavor: string,
  trustedDirs: readonly string[] = [],
  mount?: LayerMount,
  buildRoot?: string,
): Promise<LoaderInfo> {
  const path = posix.join(fs.prefix, loaderRel(arch));
  const r = fs.resolve(path);
  const base = { path, exists: r.ok && r.stat.isFile() };
  let help: LdSoHelp | undefined;
  let source: string;
  const here = emulationFor(arch);
  if (r.ok && here.runnable) {
    try {
      const opts = { timeoutMs: 20_000, env: {} };
      const out = mount
        ? await runInLayer(mount, [path, "--help"], {
            ...opts,
            readOnlyLayer: true,
            network: false,
            cwd: "/",
            root: buildRoot,
          })
        : await run(path, ["--help"], opts);
      help = parseLdSoHelp(out.stdout);
      source = `ran ${path} --help`;
    } catch (e) {
      source = `${path} --help failed (${e instanceof Error ? e.message : String(e)})`;
    }
  } else
    source = r.ok
      ? `the loader is for ${arch} and cannot run here (${here.runnable ? "" : here.problem})`
      : `${path} is missing`;

  if (help && help.systemDirs.length > 0) {
    const cacheDirs = help.cache && fs.inPrefix(help.cache) ? ldSoConfDirs(fs) : [];
    return {
      ...base,
      systemDirs: help.systemDirs,
      cache: help.cache,
      searchDirs: [...cacheDirs, ...help.systemDirs],
      source: cacheDirs.length > 0 ? `${source}; cache dirs from ${fs.prefix}/etc/ld.so.conf` : source,
    };
  }
  const assumed = getFlavor(flavor).checkDefaults.loaderDirs(fs.prefix, arch, trustedDirs);
  return {
    ...base,
    systemDirs: assumed,
    searchDirs: assumed,
    source: `${source}; assumed the ${flavor} loader's defaults`,
  };
}

/** Directories listed in the prefix's etc/ld.so.conf (and the files it includes), which its cache indexes. */
export function ldSoConfDirs(fs: LayerFs): string[] {
  const dirs: string[] = [];
  const seen = new Set<string>();
  const read = (file: string, depth: number): void => {
    if (depth > 5 || seen.has(file)) return;
    seen.add(file);
    const text = fs.readText(file);
    if (text === undefined) return;
    for (const raw of text.split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      if (!line) continue;
      if (line.startsWith("include ")) {
        for (const pattern of line.slice(8).trim().split(/\s+/))
          for (const f of globInLayer(fs, posix.resolve(posix.dirname(file), pattern))) read(f, depth + 1);
      } else if (line.startsWith("hwcap ")) {
        // obsolete directive, ignored by glibc ≥ 2.37
      } else {
        const dir = line.startsWith("/") ? line : posix.resolve(posix.dirname(file), line);
        // Paths in a prefix's ld.so.conf are already prefixed (ldconfig -r is not used).
        dirs.push(dir);
      }
    }
  };
  read(posix.join(fs.prefix, "etc/ld.so.conf"), 0);
  return dirs;
}

/** Expand a `dir/*.conf`-style pattern (a `*` in the last component only) inside the layer. */
function globInLayer(fs: LayerFs, pattern: string): string[] {
  const dir = posix.dirname(pattern);
  const base = posix.basename(pattern);
  if (!base.includes("*")) return fs.exists(pattern) ? [pattern] : [];
  const r = fs.resolve(dir);
  if (!r.ok || !r.stat.isDirectory()) return [];
  const [head, tail] = [base.slice(0, base.indexOf("*")), base.slice(base.lastIndexOf("*") + 1)];
  return readdirSync(r.local)
    .filter((n) => n.startsWith(head) && n.endsWith(tail))
    .sort()
    .map((n) => posix.join(dir, n));
}
