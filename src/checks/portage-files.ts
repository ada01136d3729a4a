/**
 * Reading the Portage configuration a Gentoo Prefix layer carries (repos.conf, the glibc
 * trusted-dirs env file, package.env, set files) and the state of git checkouts, from the files.
 */
import { readdirSync } from "node:fs";
import { posix } from "node:path";
import { resolveInside } from "../paths/inside.js";
import { TRUSTED_DIRS_ENV_FILE } from "../spec/schema.js";
import type { LayerFs } from "./layer-fs.js";

export type IniSections = Map<string, Map<string, string>>;

/** Portage's repos.conf dialect of INI: `[section]`, `key = value`, `#`/`;` comments; later keys win. */
export function parseIni(text: string, into: IniSections = new Map()): IniSections {
  let section: Map<string, string> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[") && line.endsWith("]")) {
      const name = line.slice(1, -1).trim();
      section = into.get(name) ?? new Map();
      into.set(name, section);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0 || !section) continue;
    section.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return into;
}

/** `etc/portage/repos.conf`, a file or a directory of files read in name order (hidden and `~` files skipped). */
export function readReposConf(fs: LayerFs): { sections: IniSections; files: string[] } {
  const base = fs.abs("etc/portage/repos.conf");
  const r = fs.resolve(base);
  const sections: IniSections = new Map();
  const files: string[] = [];
  if (!r.ok) return { sections, files };
  const names = r.stat.isDirectory()
    ? listDir(fs, base)
        .filter((n) => !n.startsWith(".") && !n.endsWith("~"))
        .map((n) => posix.join(base, n))
    : [base];
  for (const f of names) {
    const text = fs.readText(f);
    if (text === undefined) continue;
    files.push(f);
    parseIni(text, sections);
  }
  return { sections, files };
}

export function listDir(fs: LayerFs, dir: string): string[] {
  const r = fs.resolve(dir);
  if (!r.ok || !r.stat.isDirectory()) return [];
  return readdirSync(r.local).sort();
}

/** The commit a git checkout's HEAD points at (detached, a branch ref, or a packed ref); undefined when it is not a checkout. */
export function gitHead(fs: LayerFs, repoDir: string): { commit?: string; ref?: string; problem?: string } {
  let gitDir = posix.join(repoDir, ".git");
  const st = fs.resolve(gitDir);
  if (!st.ok) return { problem: `${gitDir} does not exist (not a git checkout)` };
  if (st.stat.isFile()) {
    const text = fs.readText(gitDir)?.trim() ?? "";
    if (!text.startsWith("gitdir: ")) return { problem: `${gitDir} is a file without a gitdir: line` };
    const target = text.slice(8).trim();
    gitDir = target.startsWith("/") ? target : posix.join(repoDir, target);
  }
  const head = fs.readText(posix.join(gitDir, "HEAD"))?.trim();
  if (!head) return { problem: `${gitDir}/HEAD is missing` };
  if (!head.startsWith("ref: ")) return { commit: head };
  const ref = head.slice(5).trim();
  const loose = fs.readText(posix.join(gitDir, ref))?.trim();
  if (loose) return { commit: loose, ref };
  for (const line of (fs.readText(posix.join(gitDir, "packed-refs")) ?? "").split("\n")) {
    const [sha, name] = line.trim().split(" ");
    if (name === ref && sha) return { commit: sha, ref };
  }
  return { ref, problem: `HEAD points at ${ref}, which does not exist` };
}

/**
 * The vardb directory (never the prefix itself, which readVardb would take for one when var/db/pkg
 * is missing), its symlinks followed inside the prefix only: UnsafePathError for one leading out.
 */
export const vardbDir = (localPrefix: string) =>
  resolveInside({ base: localPrefix, what: `${localPrefix}: the vardb` }, "var/db/pkg");

export const TRUSTED_DIRS_ENV_PATH = `etc/portage/env/${TRUSTED_DIRS_ENV_FILE}`;

/** The dirs of `EXTRA_EMAKE="user-defined-trusted-dirs=a:b"` (an env file or the vardb's EXTRA_EMAKE), in order. */
export function trustedDirsFromExtraEmake(text: string): string[] | undefined {
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    if (line.startsWith("EXTRA_EMAKE=")) line = line.slice("EXTRA_EMAKE=".length);
    if ((line.startsWith('"') && line.endsWith('"')) || (line.startsWith("'") && line.endsWith("'")))
      line = line.slice(1, -1);
    for (const word of line.split(/\s+/)) {
      const key = "user-defined-trusted-dirs=";
      if (word.startsWith(key)) return word.slice(key.length).split(":").filter(Boolean);
    }
  }
  return undefined;
}
