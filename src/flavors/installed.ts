/**
 * The installed packages of a prefix, whatever its flavor: each flavor declares its package
 * database (FlavorModule.packageReader, in its folder: a Gentoo Prefix has Portage's vardb, a
 * debian-flavor layer dpkg's status database). This module only finds which one a prefix has and
 * calls that flavor's reader, so manifests and diffs see one shape; versions are compared with
 * that database's own rules.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log.js";
import { flavorOfDatabase, flavors } from "./index.js";
import type { InstalledPackage, InstalledPackages, PackageDatabaseKind } from "./package-database.js";

export type { InstalledPackage, InstalledPackages, PackageDatabaseKind } from "./package-database.js";

/** The package database a prefix has: the first flavor's (in the registry's order) whose database path exists. */
export function detectPackageDatabase(prefix: string): PackageDatabaseKind | undefined {
  for (const f of flavors.values())
    if (existsSync(join(prefix, f.packageReader.path))) return f.packageReader.kind;
  return undefined;
}

/** The prefix's installed packages, sorted by name; undefined when it has no package database. */
export async function readInstalledPackages(prefix: string): Promise<InstalledPackages | undefined> {
  const database = detectPackageDatabase(prefix);
  if (database === undefined) return undefined;
  const read = await flavorOfDatabase(database).packageReader.read(prefix);
  for (const w of read.warnings) log.warn(w);
  return { database, packages: read.packages.sort(byKey) };
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
  return flavorOfDatabase(database).packageReader.compareVersions(a, b);
}
