/** A debian-flavor layer is recognised by dpkg's status database. */
import { existsSync } from "node:fs";
import { join } from "node:path";

export const detect = (prefixDir: string): boolean => existsSync(join(prefixDir, "var/lib/dpkg/status"));
