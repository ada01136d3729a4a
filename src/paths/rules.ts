/**
 * What a value that becomes a path may be, and joins that prove the result stays inside the
 * directory it belongs to (a prefix, a repository root, a state or run directory). Pure: strings in,
 * strings or problems out. The spec's schema refuses a bad value with these checks before anything is
 * written; the code that turns a value into a path calls the joins again at run time (defence in
 * depth: a plan.json, a journal or a stage function called directly did not pass the schema).
 * Following symlinks on disk is inside.ts's job.
 *
 *   nameProblem("..")                         → { rule: "dot-dot", … }
 *   relativePathProblem("env/../../x")        → { rule: "dot-dot", … }
 *   joinInside("/p", "etc/portage/env/x", "gentoo.packageEnvFiles key") → "/p/etc/portage/env/x"
 *   joinInside("/p", "../x", …)               → throws UnsafePathError (exit 2)
 */
import { posix } from "node:path";
import { InputError } from "../errors.js";

export type PathRule =
  | "empty"
  | "nul"
  | "absolute"
  | "not-absolute"
  | "dot-dot"
  | "not-normalised"
  | "slash"
  | "outside";

export interface PathProblem {
  rule: PathRule;
  /** What is wrong, as the end of a sentence about the value: `has a ".." component`. */
  message: string;
}

export interface PathOptions {
  /**
   * Refuse empty and `.` components (`a//b`, `./a`, `a/`) instead of reading past them. Artifact
   * member names and values that are shown as they are (a host link's path) are normalised.
   */
  normalised?: boolean;
}

const problem = (rule: PathRule, message: string): PathProblem => ({ rule, message });

/** The components of a relative path that name something (`""` and `.` dropped). */
function components(value: string): string[] {
  return value.split("/").filter((c) => c !== "" && c !== ".");
}

/** NUL, `..`, nothing named, and (when asked) empty or `.` components, in that order. */
function componentsProblem(
  value: string,
  parts: string[],
  opts: PathOptions & { nothing?: string },
): PathProblem | undefined {
  if (value.includes("\0")) return problem("nul", "contains a NUL byte");
  if (parts.includes(".."))
    return problem("dot-dot", 'has a ".." component, which leads out of its directory');
  if (opts.nothing !== undefined && !parts.some((c) => c !== "" && c !== "."))
    return problem("empty", opts.nothing);
  if (opts.normalised && parts.some((c) => c === "" || c === "."))
    return problem(
      "not-normalised",
      'has an empty or "." component (a doubled, leading or trailing "/", or "./")',
    );
  return undefined;
}

/** A single name inside a directory: not empty, not `.` or `..`, no `/` and no NUL. */
export function nameProblem(value: string): PathProblem | undefined {
  if (value === "") return problem("empty", "is empty");
  if (value.includes("\0")) return problem("nul", "contains a NUL byte");
  if (value.includes("/")) return problem("slash", 'contains a "/" (a single name is expected here)');
  if (value === "..") return problem("dot-dot", 'is "..", the directory above');
  if (value === ".") return problem("empty", 'is ".", the directory itself (a name is expected)');
  return undefined;
}

/**
 * A path below a directory: relative, no NUL, no `..` component, and naming something below the
 * directory (not empty, not only `.` and `/`).
 */
export function relativePathProblem(value: string, opts: PathOptions = {}): PathProblem | undefined {
  if (value === "") return problem("empty", "is empty");
  if (value.startsWith("/"))
    return problem("absolute", "is absolute (a path relative to its directory is expected)");
  return componentsProblem(value, value.split("/"), {
    ...opts,
    nothing: "names the directory itself, nothing below it",
  });
}

/** An absolute path below `/`: no NUL, no `..` component, not `/` itself. */
export function absolutePathProblem(value: string, opts: PathOptions = {}): PathProblem | undefined {
  if (value === "") return problem("empty", "is empty");
  if (!value.startsWith("/"))
    return problem("not-absolute", 'is not absolute (expected a path starting with "/")');
  return componentsProblem(value, value.slice(1).split("/"), {
    ...opts,
    nothing: 'is "/" itself, nothing below it',
  });
}

/** `a/./b//c/` → `a/b/c`, for a value relativePathProblem accepts. */
export function normaliseRelative(value: string): string {
  return components(value).join("/");
}

/** Lexically: is `path` `dir` itself or below it? Both absolute and normalised. */
export function isInside(path: string, dir: string): boolean {
  if (dir === "/") return path.startsWith("/");
  return path === dir || path.startsWith(`${dir}/`);
}

/** A value that would become a path outside its directory, with what would be right. Exit 2. */
export class UnsafePathError extends InputError {
  readonly what: string;
  readonly value: string;
  readonly rule: PathRule;
  /** Why, as rules.ts says it (`has a ".." component …`). */
  readonly reason: string;

  constructor(what: string, value: string, p: PathProblem, expected?: string) {
    super(`${what}: ${JSON.stringify(value)} ${p.message}`, expected ? { hint: `expected ${expected}` } : {});
    this.name = "UnsafePathError";
    this.what = what;
    this.value = value;
    this.rule = p.rule;
    this.reason = p.message;
  }
}

/** The name, when nameProblem accepts it; else an UnsafePathError naming `what`. */
export function safeName(value: string, what: string, expected?: string): string {
  const p = nameProblem(value);
  if (p) throw new UnsafePathError(what, value, p, expected);
  return value;
}

/** The normalised relative path, when relativePathProblem accepts it; else an UnsafePathError. */
export function safeRelative(value: string, what: string, expected?: string, opts: PathOptions = {}): string {
  const p = relativePathProblem(value, opts);
  if (p) throw new UnsafePathError(what, value, p, expected);
  return normaliseRelative(value);
}

/**
 * `base/rel`, proven to be below `base`: `rel` is relative, without `..` and names something
 * below it. `what` names the value in the error (a spec field, "artifact member" …).
 */
export function joinInside(base: string, rel: string, what: string, expected?: string): string {
  return posix.join(base, safeRelative(rel, what, expected));
}

/**
 * The path of `path` relative to `dir`, when it is below it (lexically: `path` has no `..`, and
 * empty and `.` components are read past); else an UnsafePathError. `dir` itself counts only with `allowSelf`.
 */
export function relativeInside(
  dir: string,
  path: string,
  what: string,
  opts: { allowSelf?: boolean; expected?: string } = {},
): string {
  const d = posix.normalize(dir);
  // no `..` at all: read lexically it could hide a way out through a symlink
  const bad = componentsProblem(path, path.split("/"), {});
  if (bad) throw new UnsafePathError(what, path, bad, opts.expected);
  const p = posix.normalize(path);
  const rel = posix.relative(d, p);
  const outside = !isInside(p, d);
  if (outside || (rel === "" && !opts.allowSelf))
    throw new UnsafePathError(
      what,
      path,
      problem("outside", rel === "" && !outside ? `is ${d} itself, nothing below it` : `is not inside ${d}`),
      opts.expected ?? `a path below ${d}`,
    );
  return rel;
}
