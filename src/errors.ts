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
