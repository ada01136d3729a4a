/** Who is acting, as the audit log and the publication history record it. */
import { userInfo } from "node:os";

/** The OS user; under sudo, `alice (as root)`. */
export function currentUser(): string {
  const sudo = process.env.SUDO_USER;
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return sudo && sudo !== name ? `${sudo} (as ${name})` : name;
}
