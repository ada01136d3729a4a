/**
 * Text that compat hands to cvmfs_server as a tag name or a tag description (`publish -a TAG
 * -m MESSAGE`). cvmfs_server 2.12 builds shell command lines from both and runs them with `sh -c`
 * (cvmfs_server_publish.sh: `sync_command="… -D $tag_name -J $tag_description"`, unquoted, and
 * `tag_command="… -D \"$tag_description\""`), so a parenthesis is a syntax error, `$(…)` and
 * backquotes run, `*` globs, `#` cuts the message, `~` expands, and a word starting with `-`
 * becomes an option of `cvmfs_swissknife sync`. Only words of a small, inert alphabet pass.
 */

/** Characters no shell gives a meaning to, inside an unquoted or a double-quoted word. */
const INERT = /[A-Za-z0-9_.,:/+=@%-]/;
const MAX_MESSAGE = 300;

/**
 * `text` as a cvmfs_server tag description: every other character becomes `_`, runs of white
 * space one space, a word starting with `-` gets a `_` before it, cut to 300 characters.
 */
export function cvmfsMessage(text: string): string {
  const words = [...text]
    .map((c) => (/\s/.test(c) ? " " : INERT.test(c) ? c : "_"))
    .join("")
    .split(" ")
    .filter(Boolean)
    .map((w) => (w.startsWith("-") ? `_${w}` : w));
  let out = "";
  for (const w of words) {
    const next = out ? `${out} ${w}` : w;
    if (next.length > MAX_MESSAGE) break;
    out = next;
  }
  return out || "compat";
}

/** A tag name: one word of `[A-Za-z0-9._-]` starting with a letter or digit (no spaces: cvmfs refuses them). */
export function cvmfsTagName(parts: string[]): string {
  const name = parts
    .join("-")
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .replace(/^[^A-Za-z0-9]+/, "");
  return name.slice(0, 200) || "compat";
}

/** True when `text` passes through cvmfs_server's `sh -c` unchanged (what cvmfsMessage makes). */
export function isCvmfsSafe(text: string): boolean {
  return text.split(" ").every((w) => w !== "" && !w.startsWith("-") && [...w].every((c) => INERT.test(c)));
}
