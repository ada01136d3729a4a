/**
 * The shape every flavor's package database is read into (manifests, diffs, build records), and
 * what a flavor declares of its database (FlavorModule.packageReader, in its folder): where it is
 * in a prefix, how it is read, how its versions compare. flavors/installed.ts asks the flavors.
 */

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

/** A flavor's package database: found, read and compared by its own rules. */
export interface PackageDatabaseReader {
  kind: PackageDatabaseKind;
  /** Where it is in a prefix (relative): a prefix has this database when the path exists. */
  path: string;
  /** Its installed packages (unsorted), and a warning (naming where) for each entry it could not read. */
  read(prefix: string): Promise<{ packages: InstalledPackage[]; warnings: string[] }>;
  /** -1, 0, 1 with the database's own version rules. */
  compareVersions(a: string, b: string): number;
}
