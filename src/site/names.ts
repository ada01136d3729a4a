/**
 * Names the site config gives to layers, targets and approvers. They appear on the command line,
 * in the store, and as one component of paths under the state directory (artifacts/<layer>/…), so
 * a name is one plain path component: it cannot be `.`, `..`, hold a `/`, or start with `-` or `.`.
 */
import { join } from "node:path";
import { InputError } from "../errors.js";

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const NAME_RULE = "a letter or digit, then letters, digits, '.', '_' or '-' (at most 64)";

/** Why `name` cannot be one component of a path, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  return NAME_RE.test(name) ? undefined : `not a name (expected ${NAME_RULE})`;
}

/**
 * `dir/name/…` for names from the config or the command line, refusing any that is not one plain
 * path component, so the result always stays inside `dir`.
 */
export function childPath(dir: string, ...names: string[]): string {
  for (const name of names) {
    const problem = nameProblem(name);
    if (problem) throw new InputError(`${JSON.stringify(name)}: ${problem}`);
  }
  return join(dir, ...names);
}
