/** The gentoo flavor's package database: Portage's vardb (`var/db/pkg`), read by gentoo/vardb.ts. */
import { readVardb, VDB_PATH } from "../../gentoo/vardb.js";
import { vercmp } from "../../gentoo/version.js";
import type { PackageDatabaseReader } from "../package-database.js";

export const packageReader: PackageDatabaseReader = {
  kind: "vardb",
  path: VDB_PATH,
  async read(prefix) {
    const vardb = readVardb(prefix);
    return {
      warnings: vardb.problems.map((p) => `${p.path}: ${p.message}`),
      packages: vardb.packages.map((p) => ({
        name: p.cp,
        version: p.version,
        slot: p.subSlot && p.subSlot !== p.slot ? `${p.slot}/${p.subSlot}` : p.slot,
      })),
    };
  },
  compareVersions: vercmp,
};
