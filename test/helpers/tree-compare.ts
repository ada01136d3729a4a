/**
 * The tests' own comparison of a published tree with an artifact, independent of compat's indexes:
 * the artifact extracted by GNU tar, both trees walked with lstat, compared path by path on type,
 * permission bits, symlink target and sha256 of content. Hard links count as the files they are
 * (CernVM-FS breaks them up); a `.cvmfscatalog` the published tree has and the artifact does not
 * is a nested-catalog marker the repository made, not a difference.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";

interface Entry {
  type: string;
  mode: string;
  content: string;
}

function walk(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const visit = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    const st = lstatSync(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      out.set(rel, { type: "directory", mode, content: "" });
      for (const name of readdirSync(abs).sort()) visit(rel ? `${rel}/${name}` : name);
    } else if (st.isSymbolicLink()) out.set(rel, { type: "symlink", mode, content: readlinkSync(abs) });
    else if (st.isFile())
      out.set(rel, {
        type: "file",
        mode,
        content: createHash("sha256").update(readFileSync(abs)).digest("hex"),
      });
    else out.set(rel, { type: "other", mode, content: "" });
  };
  visit("");
  return out;
}

/** How `dir` differs from the tree `artifact` holds at `topDir` (empty: the same). */
export function differencesFromArtifact(dir: string, artifact: string, topDir: string): string[] {
  const scratch = mkdtempSync(join(process.env.TMPDIR ?? "/tmp", "compat-compare-"));
  try {
    // tar stops reading at the end of the archive (before the record padding): the pipe's status is tar's.
    execFileSync("sh", [
      "-c",
      'zstd -q -d -c -- "$1" | tar -x -p --no-same-owner -C "$2" -f -',
      "sh",
      artifact,
      scratch,
    ]);
    return differences(walk(join(scratch, topDir)), walk(dir));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** How the tree at `dir` differs from the tree at `expected`. */
export function differencesFromTree(dir: string, expected: string): string[] {
  return differences(walk(expected), walk(dir));
}

function differences(want: Map<string, Entry>, got: Map<string, Entry>): string[] {
  const out: string[] = [];
  for (const [rel, w] of want) {
    const g = got.get(rel);
    if (!g) out.push(`${rel}: missing`);
    else if (g.type !== w.type) out.push(`${rel}: ${g.type}, expected ${w.type}`);
    else if (g.mode !== w.mode) out.push(`${rel}: mode ${g.mode}, expected ${w.mode}`);
    else if (g.content !== w.content)
      out.push(`${rel}: ${w.type === "symlink" ? "target" : "content"} differs`);
  }
  for (const rel of got.keys())
    if (!want.has(rel) && !(rel === ".cvmfscatalog" || rel.endsWith("/.cvmfscatalog")))
      out.push(`${rel}: unexpected`);
  return out;
}
