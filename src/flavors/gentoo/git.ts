/**
 * A git repository checked out at a pinned commit, the way EESSI's sync_git_overlay.yml does it:
 * a shallow clone of the branch, a shallow fetch of the commit, a checkout of the commit. Run
 * again, it does nothing when the checkout is already at the commit, and starts over when it is
 * not (a half clone left by a killed build included).
 */
import { lstatSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../../errors.js";
import type { RunResult } from "../../exec/run.js";
import type { Bind } from "../../exec/sandbox.js";
import type { StageContext } from "../types.js";

/** What git runs through: the build's tool runner (the build root's git, or the host's). */
type GitContext = Pick<StageContext, "buildTool" | "buildRoot">;

export interface PinnedCheckout {
  url: string;
  /** Branch cloned first (default: the remote's HEAD). */
  branch?: string;
  /** Commit to check out; without it the checkout follows the branch head. */
  commit?: string;
  /** Local directory. */
  dir: string;
}

/**
 * The checkout's own `.git` directory when `dir` and `dir/.git` are real directories (neither a
 * symlink nor a `gitdir:` file, which could send git anywhere on the host); else undefined.
 */
function gitDirOf(dir: string): string | undefined {
  const realDir = (p: string) => {
    try {
      return lstatSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  const gitDir = join(dir, ".git");
  return realDir(dir) && realDir(gitDir) ? gitDir : undefined;
}

/**
 * Read-only plumbing on a checkout inside a layer. Everything that ran in the layer's sandbox may
 * have written its `.git` (config, hooks), and this git runs on the host, as the build user: so
 * only plumbing that starts no program of the config's (no porcelain: `git show` with
 * log.showSignature runs gpg.program), no system or global config, no repository discovery (an
 * explicit --git-dir), and the config keys that do start programs overridden on the command line.
 */
function layerGit(ctx: GitContext, gitDir: string, args: string[]): Promise<RunResult> {
  return ctx.buildTool(
    "git",
    [
      `--git-dir=${gitDir}`,
      "--no-pager",
      "-c",
      "core.fsmonitor=false",
      "-c",
      "core.hooksPath=/dev/null",
      "-c",
      "log.showSignature=false",
      ...args,
    ],
    {
      network: false,
      env: {
        PATH: ctx.buildRoot ? "/usr/bin:/bin" : process.env.PATH,
        LC_ALL: "C",
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_TERMINAL_PROMPT: "0",
        GIT_OPTIONAL_LOCKS: "0",
        GIT_NO_REPLACE_OBJECTS: "1",
      },
    },
  );
}

export async function headCommit(ctx: GitContext, dir: string): Promise<string | undefined> {
  const gitDir = gitDirOf(dir);
  if (gitDir === undefined) return undefined;
  try {
    return (await layerGit(ctx, gitDir, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])).stdout.trim();
  } catch {
    return undefined;
  }
}

/**
 * The committer time (unix seconds) of `commit` in the checkout at `dir`, read with `git cat-file
 * commit` (which verifies no signature and starts nothing) and parsed from its `committer` line;
 * undefined when the checkout or the commit is not there.
 */
export async function committerTime(
  ctx: GitContext,
  dir: string,
  commit: string,
): Promise<number | undefined> {
  const gitDir = gitDirOf(dir);
  if (gitDir === undefined || !/^[0-9a-f]{4,64}$/.test(commit)) return undefined;
  const r = await layerGit(ctx, gitDir, ["cat-file", "commit", commit]).catch(() => undefined);
  if (r === undefined) return undefined;
  // the header ends at the first empty line; `committer <name> <<email>> <seconds> <+zone>`
  const header = r.stdout.split("\n\n", 1)[0]!;
  const m = /^committer .* (\d{1,15}) [+-]\d{4}$/m.exec(header);
  const time = m ? Number(m[1]) : Number.NaN;
  return Number.isSafeInteger(time) ? time : undefined;
}

/**
 * A local repository (`file://` or an absolute path: a local mirror of gentoo.git, a test's) is on
 * the host: in a build root it is shown read-only at its own path, which must not be one of the
 * build root's directories (it would hide the build root's own files there) nor one the sandbox
 * makes itself (/cvmfs holds the layer being built).
 */
export function localRepositoryBinds(ctx: GitContext, url: string, field: string): Bind[] {
  if (!ctx.buildRoot || !(url.startsWith("file:") || url.startsWith("/"))) return [];
  let path: string;
  try {
    path = url.startsWith("/") ? posix.normalize(url) : fileURLToPath(url);
  } catch (e) {
    throw new InputError(`${field}: ${url} is not a file URL git can use (${(e as Error).message})`);
  }
  const top = path.split("/").filter(Boolean)[0];
  if (top === undefined || SANDBOX_OWN.has(top))
    throw new InputError(`${field}: ${url} is ${path}, where the sandbox shows its own`, {
      hint: "give the path of a git repository (e.g. under /srv/git or your home)",
    });
  let inRoot = false;
  try {
    lstatSync(join(ctx.buildRoot.dir, path));
    inRoot = top !== "tmp";
  } catch {
    /* not in the build root: it can be shown there */
  }
  if (inRoot)
    throw new InputError(
      `${field}: ${url} is ${path}, which the build root has too: the build could not see both`,
      {
        hint: "give the path of a git repository the build root does not have (e.g. under /srv/git or your home), or build with --no-build-root",
      },
    );
  return [{ src: path, dest: path, readOnly: true }];
}

/** Top-level directories the sandbox makes itself: a local repository cannot be shown there. */
const SANDBOX_OWN = new Set(["cvmfs", "proc", "dev"]);

/** Clone and pin; returns the commit checked out. */
export async function checkoutPinned(
  ctx: GitContext & Pick<StageContext, "note">,
  c: PinnedCheckout,
  field = "the repository url",
): Promise<string> {
  const binds = localRepositoryBinds(ctx, c.url, field);
  const head = await headCommit(ctx, c.dir);
  if (head !== undefined && c.commit !== undefined && head.startsWith(c.commit)) {
    ctx.note(`${c.dir} is already at ${c.commit}`);
    return head;
  }
  await rm(c.dir, { recursive: true, force: true });
  await mkdir(dirname(c.dir), { recursive: true });
  ctx.note(`cloning ${c.url}${c.branch ? ` (${c.branch})` : ""}`);
  await ctx.buildTool(
    "git",
    ["clone", "--depth", "1", ...(c.branch ? ["--branch", c.branch] : []), "--", c.url, c.dir],
    { binds },
  );
  if (c.commit !== undefined) {
    ctx.note(`fetching commit ${c.commit}`);
    await ctx.buildTool("git", ["-C", c.dir, "fetch", "--depth", "1", "origin", c.commit], { binds });
    await ctx.buildTool("git", [
      "-C",
      c.dir,
      "-c",
      "advice.detachedHead=false",
      "checkout",
      "--quiet",
      c.commit,
    ]);
  }
  return (await headCommit(ctx, c.dir)) ?? "unknown";
}
