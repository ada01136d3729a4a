/** The store's errors, each a CompatError with the project's exit code for its kind. */
import { CompatError, type ErrorOptions, InputError } from "../errors.js";

/** The store cannot be opened or used: missing, corrupt, unreachable, refused login. Exit 4. */
export class StoreError extends CompatError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("tool", message, options);
    this.name = "StoreError";
  }
}

/** A candidate asked to move to a state its current state does not lead to. Exit 3. */
export class IllegalTransitionError extends CompatError {
  constructor(
    readonly candidateId: number,
    readonly from: string,
    readonly to: string,
    allowed: readonly string[],
  ) {
    super(
      "check",
      `candidate ${candidateId} is ${from}: it cannot become ${to}` +
        (allowed.length ? ` (from ${from} it can become ${allowed.join(", ")})` : ` (${from} is final)`),
    );
    this.name = "IllegalTransitionError";
  }
}

/** A lease (a job or resource one process holds at a time) is held by another process. Exit 3. */
export class LeaseHeldError extends CompatError {
  constructor(message: string, options: ErrorOptions = {}) {
    super("check", message, options);
    this.name = "LeaseHeldError";
  }
}

/** A user, token or other row named by the caller is not in the store. Exit 2 (HTTP 404). */
export class NotInStoreError extends InputError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options);
    this.name = "NotInStoreError";
  }
}
