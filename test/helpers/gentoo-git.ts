/**
 * A git repository in gentoo.git's style for tests and benchmarks: commits whose subjects are
 * `category/package: summary`, with a body, then GLEP 66 trailers (`Bug:`/`Closes:` with a
 * bugs.gentoo.org URL, `Signed-off-by:`), each adding, changing or deleting ebuilds. Made with the
 * real git, one `git commit` per entry, committer dates as given (so HEAD's age is under test).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface GentooCommit {
  subject: string;
  body?: string;
  trailers?: string[];
  /** Ebuilds (or any files) written: path → content; an ebuild gets a SLOT line from `slot`. */
  add?: Record<string, string>;
  remove?: string[];
  /** Committer and author date (ISO 8601); default: now. */
  date?: string;
}

/** An ebuild's text with its SLOT. */
export function ebuild(slot = "0", extra = ""): string {
  return `# Copyright 1999-2026 Gentoo Authors\n# Distributed under the terms of the GNU General Public License v2\n\nEAPI=8\n\nDESCRIPTION="test"\nSLOT="${slot}"\nKEYWORDS="~amd64 ~arm64"\n${extra}`;
}

export function makeGentooRepo(dir: string, commits: GentooCommit[]): string[] {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const git = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", env: { ...process.env, ...env } }).trim();
  git(["init", "-q", "-b", "master"]);
  git(["config", "user.name", "Sam James"]);
  git(["config", "user.email", "sam@gentoo.org"]);
  git(["config", "commit.gpgsign", "false"]);
  const hashes: string[] = [];
  for (const c of commits) {
    for (const [path, content] of Object.entries(c.add ?? {})) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
      git(["add", "--", path]);
    }
    for (const path of c.remove ?? []) git(["rm", "-q", "--", path]);
    const message = [
      c.subject,
      ...(c.body ? ["", c.body] : []),
      "",
      ...(c.trailers ?? []),
      "Signed-off-by: Sam James <sam@gentoo.org>",
    ].join("\n");
    const date = c.date ?? new Date().toISOString();
    git(["commit", "-q", "--allow-empty", "-m", message], {
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    });
    hashes.push(git(["rev-parse", "HEAD"]));
  }
  return hashes;
}

/** git with a committer identity, its output trimmed. */
export const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.org", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();

/**
 * A stand-in for gentoo.git a stage checks out: `commits` commits changing `profiles-version`,
 * fetchable by id as GitHub allows. Returns the commit ids, oldest first.
 */
export function standInGentooRepo(dir: string, commits = 1): string[] {
  mkdirSync(dir);
  git(dir, "init", "-q", "-b", "master");
  git(dir, "config", "uploadpack.allowAnySHA1InWant", "true");
  for (let n = 1; n <= commits; n++) {
    writeFileSync(join(dir, "profiles-version"), `${n}\n`);
    git(dir, "add", ".");
    git(dir, "commit", "-qm", n === 1 ? "first" : `commit ${n}`);
  }
  return git(dir, "log", "--format=%H").split("\n").reverse();
}
