/** A Gentoo Prefix is recognised by Portage's installed-package database and its configuration. */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";

export function detect(prefixDir: string): boolean {
  let vardb = false;
  try {
    vardb = statSync(join(prefixDir, "var/db/pkg")).isDirectory();
  } catch {}
  return vardb && existsSync(join(prefixDir, "etc/portage"));
}
