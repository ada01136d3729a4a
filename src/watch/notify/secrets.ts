/**
 * Channel secrets (webhook URLs, HMAC keys) from where the site config says they are: an
 * environment variable or a file (its first line). Messages name the variable or the file,
 * never what is in it.
 */
import { readFileSync } from "node:fs";
import { InputError } from "../../errors.js";
import type { SecretRef } from "./config.js";

export function resolveSecret(ref: SecretRef, what: string): string {
  if ("env" in ref) {
    const value = process.env[ref.env];
    if (value === undefined || value.trim() === "")
      throw new InputError(`${what}: the environment variable ${ref.env} is not set`, {
        hint: `export ${ref.env}=… in the environment compat watch runs in (its value is never printed)`,
      });
    return value.trim();
  }
  let text: string;
  try {
    text = readFileSync(ref.file, "utf8");
  } catch (e) {
    throw new InputError(
      `${what}: cannot read ${ref.file} (${(e as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  const value = text.split("\n")[0]!.trim();
  if (value === "") throw new InputError(`${what}: ${ref.file} is empty`);
  return value;
}

/** A URL as messages may show it: scheme and host only (a webhook's path is its secret). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return "(not a URL)";
  }
}
