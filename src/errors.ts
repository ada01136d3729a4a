/**
 * One error type for the whole program. Each kind has one exit code, documented in docs/cli.md:
 *   2 bad input or spec, 3 failed check or validation, 4 external tool failed, 70 internal error.
 * Exit code 1 is reserved for "the command worked and found something" (e.g. audit findings).
 */
export type ErrorKind = "input" | "check" | "tool" | "internal";

export const EXIT_CODES = {
  ok: 0,
  findings: 1,
  input: 2,
  check: 3,
  tool: 4,
  internal: 70,
} as const;

export interface ErrorOptions {
  /** Extra lines shown under the message: one per problem, each self-contained. */
  details?: string[];
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

export class CompatError extends Error {
  readonly kind: ErrorKind;
  readonly details: string[];
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CompatError";
    this.kind = kind;
    this.details = options.details ?? [];
    this.hint = options.hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** Bad user input: a spec, a flag, a file that is not what it should be. Exit 2. */
export class InputError extends CompatError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("input", message, options);
    this.name = "InputError";
  }
}

/** A check or a validation rejected something. Exit 3. */
export class ValidationError extends CompatError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("check", message, options);
    this.name = "ValidationError";
  }
}

/** An external program failed or is missing. Exit 4. */
export class ToolError extends CompatError {
  readonly command: string;
  readonly exitStatus: number | null;
  readonly stderrTail: string;

  constructor(
    message: string,
    info: { command: string; exitStatus: number | null; stderrTail?: string },
    options: ErrorOptions = {},
  ) {
    super("tool", message, options);
    this.name = "ToolError";
    this.command = info.command;
    this.exitStatus = info.exitStatus;
    this.stderrTail = info.stderrTail ?? "";
  }
}

export function isCompatError(e: unknown): e is CompatError {
  return e instanceof CompatError;
}

/** A file-system or device condition (read-only, full, no permission, damaged file). Exit 4. */
export class IoError extends CompatError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("tool", message, options);
    this.name = "IoError";
  }
}

/** An error from a system call (Node's `fs`, `child_process` …): it carries an errno code. */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException & { code: string } {
  return (
    e instanceof Error &&
    typeof (e as NodeJS.ErrnoException).code === "string" &&
    /^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code!)
  );
}

/** The errno codes a user or a disk causes, in words (`path`: where, when the wording needs it). */
const REASONS: Record<string, (path?: string) => string> = {
  ENOENT: (p) => (p ? `${p} does not exist` : "no such file or directory"),
  ENOTDIR: (p) => (p ? `a part of ${p} is not a directory` : "not a directory"),
  EISDIR: (p) => (p ? `${p} is a directory` : "is a directory"),
  EEXIST: (p) => (p ? `${p} already exists` : "already exists"),
  EACCES: (p) => (p ? `no permission to use ${p}` : "permission denied"),
  EPERM: (p) => (p ? `not permitted on ${p}` : "operation not permitted"),
  EROFS: () => "the file system is read-only",
  ENOSPC: () => "no space left on the device",
  EDQUOT: () => "the disk quota is exceeded",
  EIO: () => "an input/output error of the device",
  EMFILE: () => "too many open files",
  ENFILE: () => "too many open files in the system",
  ENAMETOOLONG: () => "the file name is too long",
  ELOOP: () => "too many levels of symbolic links",
  EBUSY: (p) => (p ? `${p} is busy` : "device or resource busy"),
  ENOTEMPTY: (p) => (p ? `${p} is not empty` : "directory not empty"),
  EXDEV: () => "it is on another file system",
};

/** What a user can do about an errno code. */
const HINTS: Record<string, string> = {
  ENOENT: "check the path",
  ENOTDIR: "check the path",
  EACCES: "run as a user that may use it, or choose another path",
  EPERM: "run as a user that may do it, or choose another path",
  EROFS: "choose a path on a writable file system (or remount it read-write)",
  ENOSPC: "free some space on that file system (df -h shows it), or use another one",
  EDQUOT: "free some space within your quota, or use another file system",
  EIO: "check the device (dmesg)",
  EMFILE: "raise the limit of open files (ulimit -n)",
  ENFILE: "raise the system's limit of open files (fs.file-max)",
};

/** `code` in words, e.g. "the file system is read-only (EROFS)"; the code alone when it has none. */
export function systemReason(code: string, path?: string): string {
  const words = REASONS[code]?.(path);
  return words ? `${words} (${code})` : code;
}

/**
 * A system error as the error a user sees: what was being done, where, why in words, and a hint.
 * ENOENT/ENOTDIR of a path the user gave is bad input (exit 2); everything else is I/O (exit 4).
 */
export function systemError(
  e: NodeJS.ErrnoException & { code: string },
  doing?: string,
  opts: { userPath?: boolean; hint?: string; where?: string } = {},
): CompatError {
  const where = opts.where ?? e.path ?? (e as { dest?: string }).dest;
  const what = doing ?? `${e.syscall ?? "file operation"}${where ? ` ${where}` : ""}`;
  const message = `${what}: ${systemReason(e.code, where)}`;
  const hint = opts.hint ?? HINTS[e.code];
  return opts.userPath && (e.code === "ENOENT" || e.code === "ENOTDIR")
    ? new InputError(message, { hint, cause: e })
    : new IoError(message, { hint, cause: e });
}
