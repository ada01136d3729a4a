/**
 * gentoo.git commits as data: one `git log` over the range after the layer's commit, parsed into
 * hash, committer time, message and the files each commit added, deleted or modified. git only
 * reads the repository.
 */
import { InputError, ToolError } from "../../errors.js";
import { run } from "../../exec/run.js";

export interface CommitFile {
  status: string;
  path: string;
}

export interface Commit {
  hash: string;
  /** Committer time, unix seconds. */
  time: number;
  subject: string;
  message: string;
  files: CommitFile[];
}

export const COMMIT_RE = /^[0-9a-f]{7,40}$/;

const git = (repo: string, args: string[], input?: string) =>
  run("git", ["-C", repo, ...args], {
    env: { ...process.env, GIT_LITERAL_PATHSPECS: "1", GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
    ...(input !== undefined ? { input } : {}),
  });

/** The full hash of `commit` in `repo`; InputError when the repository does not have it. */
export async function resolveCommit(repo: string, commit: string): Promise<string> {
  if (!COMMIT_RE.test(commit)) throw new InputError(`${JSON.stringify(commit)} is not a git commit id`);
  try {
    return (await git(repo, ["rev-parse", "--verify", "--quiet", `${commit}^{commit}`])).stdout.trim();
  } catch (e) {
    if (!(e instanceof ToolError)) throw e;
    throw new InputError(`${repo} does not have the layer's gentoo.git commit ${commit}`, {
      hint: "update the checkout (git fetch), or unshallow it: the commits after the layer's are compared",
    });
  }
}

/** HEAD's hash and committer time; InputError when `repo` is not a git repository. */
export async function headOf(repo: string): Promise<{ hash: string; time: number }> {
  try {
    const out = (await git(repo, ["log", "-1", "--format=%H %ct", "HEAD"])).stdout.trim();
    const [hash, time] = out.split(" ");
    return { hash: hash!, time: Number(time) };
  } catch (e) {
    if (!(e instanceof ToolError)) throw e;
    throw new InputError(`${repo} is not a gentoo.git checkout (${e.stderrTail.trim() || e.message})`, {
      hint: "give --gentoo-git a clone of https://github.com/gentoo/gentoo (or anongit.gentoo.org/git/repo/gentoo.git)",
    });
  }
}

/**
 * Parse `git log -z --name-status --format=%x01%H%x00%ct%x00%B` output: NUL-separated tokens, which
 * neither a message nor a path can hold. A commit is `\x01<hash>`, its time, its message, then
 * (status, path) pairs until the next `\x01<hash>`; statuses are one letter, so a path or a message
 * can never be taken for the start of a commit. Records that do not fit go to `problems`.
 */
export function parseLog(text: string): { commits: Commit[]; problems: string[] } {
  const commits: Commit[] = [];
  const problems: string[] = [];
  const tokens = text.split("\0");
  let i = 0;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: \x01 is the marker the format puts before each commit
  const START_RE = /^\n?\x01([0-9a-f]{40})$/;
  const isStart = (t: string | undefined) => t !== undefined && START_RE.test(t);
  while (i < tokens.length) {
    const head = tokens[i]!;
    if (!isStart(head)) {
      if (head.trim() !== "")
        problems.push(`git log output not understood near ${JSON.stringify(head.slice(0, 40))}; skipped`);
      i++;
      continue;
    }
    const hash = START_RE.exec(head)![1]!;
    const time = tokens[i + 1] ?? "";
    const message = (tokens[i + 2] ?? "").replace(/\s+$/, "");
    i += 3;
    if (!/^\d+$/.test(time)) {
      problems.push(`commit ${hash}: git log record not understood; skipped`);
      continue;
    }
    const files: CommitFile[] = [];
    while (i < tokens.length && !isStart(tokens[i])) {
      const status = tokens[i]!.trim();
      if (status === "") {
        i++;
        continue;
      }
      const path = tokens[i + 1];
      i += 2;
      if (/^[AMDT]$/.test(status) && path) files.push({ status, path });
    }
    commits.push({ hash, time: Number(time), subject: message.split("\n")[0] ?? "", message, files });
  }
  return { commits, problems };
}

/**
 * Commits after `from` up to HEAD with the files each changed, newest first. Not limited by
 * pathspecs: the caller keeps the ones touching its packages (git matching a thousand literal
 * pathspecs per commit costs more than reading every commit's file list), so the same list
 * serves every layer built from that commit.
 */
export async function commitsSince(
  repo: string,
  from: string,
): Promise<{ commits: Commit[]; problems: string[] }> {
  const r = await git(repo, [
    "log",
    "-z",
    "--no-merges",
    "--no-renames",
    "--name-status",
    "--format=%x01%H%x00%ct%x00%B",
    `${from}..HEAD`,
    "--",
  ]);
  return parseLog(r.stdout);
}

/** The text of `rev:path` for each request, via one `git cat-file --batch`; undefined where missing. */
export async function readBlobs(repo: string, requests: readonly string[]): Promise<(string | undefined)[]> {
  if (requests.length === 0) return [];
  const out = Buffer.from(
    (await git(repo, ["cat-file", "--batch"], `${requests.join("\n")}\n`)).stdout,
    "utf8",
  );
  const results: (string | undefined)[] = [];
  let i = 0;
  for (let n = 0; n < requests.length; n++) {
    const nl = out.indexOf(10, i);
    if (nl < 0) break;
    const header = out.toString("utf8", i, nl);
    i = nl + 1;
    const m = /^[0-9a-f]{40} blob (\d+)$/.exec(header);
    if (!m) {
      results.push(undefined);
      continue;
    }
    const size = Number(m[1]);
    results.push(out.toString("utf8", i, i + size));
    i += size + 1;
  }
  return results;
}
