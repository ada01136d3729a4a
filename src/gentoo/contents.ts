/**
 * The CONTENTS file of a vdb entry (portage dblink._contents_re / write_contents):
 *   dir <path> | dev <path> | fif <path>
 *   obj <path> <md5> <mtime>
 *   sym <path> -> <target> <mtime>        (or a pre-2011 stat tuple instead of the mtime)
 * Paths may contain spaces and already include EPREFIX.
 */
export type ContentsEntry =
  | { type: "dir" | "dev" | "fif"; path: string }
  | { type: "obj"; path: string; md5: string; mtime: number }
  | { type: "sym"; path: string; target: string; mtime: number };

export interface ContentsProblem {
  line: number;
  message: string;
}

const OBJ_RE = /^obj (.+) (\S+) (\d+)$/;
// The greedy `(.+) -> (.+)` takes the last " -> ", as Portage's regex does.
const SYM_RE = /^sym (.+) -> (.+) (?:(\d+)|\(\d+, \d+L, \d+L, \d+, \d+, \d+, \d+L, \d+, (\d+), \d+\))$/;
const DIR_RE = /^(dir|dev|fif) (.+)$/;

export function parseContents(text: string): { entries: ContentsEntry[]; problems: ContentsProblem[] } {
  const entries: ContentsEntry[] = [];
  const problems: ContentsProblem[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (line === "" && i === lines.length - 1) return;
    if (line.includes("\0")) {
      problems.push({ line: i + 1, message: "contains a NUL byte" });
      return;
    }
    let m = DIR_RE.exec(line);
    if (m) {
      entries.push({ type: m[1] as "dir", path: m[2]! });
      return;
    }
    m = OBJ_RE.exec(line);
    if (m) {
      entries.push({ type: "obj", path: m[1]!, md5: m[2]!, mtime: Number(m[3]) });
      return;
    }
    m = SYM_RE.exec(line);
    if (m) {
      entries.push({ type: "sym", path: m[1]!, target: m[2]!, mtime: Number(m[3] ?? m[4]) });
      return;
    }
    problems.push({ line: i + 1, message: `not a CONTENTS line: ${JSON.stringify(line.slice(0, 80))}` });
  });
  return { entries, problems };
}
