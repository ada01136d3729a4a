/** Who is acting, as the audit log and the publication history record it. */
import { userInfo } from "node:os";
import { NAME_RE } from "../site/names.js";

/**
 * The OS user; under sudo, `alice (as root)`. A command that compat serve runs for one of its
 * users gets that user in COMPAT_ACTOR and acts as `alice (as compat)`, the server's OS user in
 * brackets, the same way.
 */
export function currentUser(): string {
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const actor = process.env.COMPAT_ACTOR;
  if (actor !== undefined && NAME_RE.test(actor)) return `${actor} (as ${name})`;
  const sudo = process.env.SUDO_USER;
  return sudo && sudo !== name ? `${sudo} (as ${name})` : name;
}
