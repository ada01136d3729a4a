/**
 * The installed packages of a prefix, whatever its flavor: a Gentoo Prefix has Portage's vardb
 * (`var/db/pkg`), a debian-flavor layer has dpkg's status database (`var/lib/dpkg/status`). This
 * module only detects which one a prefix has and calls that database's own reader, so manifests
 * and diffs see one shape; versions are compared with that database's own rules.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DPKG_STATUS_PATH, readDpkgStatus } from "../debian/status.js";
import { compareVersions as compareDebianVersions } from "../debian/version.js";
import { readVardb, VDB_PATH } from "../gentoo/vardb.js";
import { vercmp } from "../gentoo/version.js";
import { log } from "../log.js";

export type PackageDatabaseKind = "vardb" | "dpkg";

/** One installed package, as every flavor's package database gives it (manifests, diffs, build records). */
export interface InstalledPackage {
  /** `category/name` (vardb) or the Debian package name. */
  name: string;
  version: string;
  /** Gentoo SLOT (with sub-slot), when the database has one. */
  slot?: string;
  /** Debian architecture, when the database has one. */
  arch?: string;
}

export interface InstalledPackages {
  database: PackageDatabaseKind;
  packages: InstalledPackage[];
}

export function detectPackageDatabase(prefix: string): PackageDatabaseKind | undefined {
  if (existsSync(join(prefix, VDB_PATH))) return "vardb";
  if (existsSync(join(prefix, DPKG_STATUS_PATH))) return "dpkg";
  return undefined;
}

/** The prefix's installed packages, sorted by name; undefined when it has no package database. */
export async function readInstalledPackages(prefix: string): Promise<InstalledPackages | undefined> {
  const database = detectPackageDatabase(prefix);
  if (database === "dpkg") {
    const status = await readDpkgStatus(prefix);
    for (const p of status.problems) log.warn(`${join(prefix, DPKG_STATUS_PATH)}:${p.line}: ${p.message}`);
    return {
      database,
      packages: status.packages
        .map((p) => ({ name: p.name, version: p.version, arch: p.architecture }))
        .sort(byKey),
    };
  }
  if (database === "vardb") {
    const vardb = readVardb(prefix);
    for (const p of vardb.problems) log.warn(`${p.path}: ${p.message}`);
    return {
      database,
      packages: vardb.packages
        .map((p) => ({
          name: p.cp,
          version: p.version,
          slot: p.subSlot && p.subSlot !== p.slot ? `${p.slot}/${p.subSlot}` : p.slot,
        }))
        .sort(byKey),
    };
  }
  return undefined;
}

/** The identity of a package across two lists: name plus Debian arch or Gentoo slot. */
export function packageKey(p: InstalledPackage): string {
  if (p.arch) return `${p.name}:${p.arch}`;
  if (p.slot) return `${p.name}:${p.slot.split("/")[0]}`;
  return p.name;
}

function byKey(a: InstalledPackage, b: InstalledPackage): number {
  const x = packageKey(a);
  const y = packageKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** -1, 0, 1 with the rules of the database the versions come from. */
export function compareInstalledVersions(database: PackageDatabaseKind, a: string, b: string): number {
  if (database === "dpkg") return compareDebianVersions(a, b);
  return vercmp(a, b);
}
