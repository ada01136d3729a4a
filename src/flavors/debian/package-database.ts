/** The debian flavor's package database: dpkg's status database (`var/lib/dpkg/status`), read by debian/status.ts. */
import { join } from "node:path";
import { DPKG_STATUS_PATH, readDpkgStatus } from "../../debian/status.js";
import { compareVersions } from "../../debian/version.js";
import type { PackageDatabaseReader } from "../package-database.js";

export const packageReader: PackageDatabaseReader = {
  kind: "dpkg",
  path: DPKG_STATUS_PATH,
  async read(prefix) {
    const status = await readDpkgStatus(prefix);
    return {
      warnings: status.problems.map((p) => `${join(prefix, DPKG_STATUS_PATH)}:${p.line}: ${p.message}`),
      packages: status.packages.map((p) => ({ name: p.name, version: p.version, arch: p.architecture })),
    };
  },
  compareVersions,
};
