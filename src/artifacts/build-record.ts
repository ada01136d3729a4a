/**
 * The layer's reproducibility record, `$EPREFIX/reprod/<UTC stamp>/build.json`, written by the
 * build pipeline. The newest stamp is the build the tree comes from; its SOURCE_DATE_EPOCH (in a
 * record of an older compat: its end time) is the artifact's build time when none is given.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { BuildRecord } from "../layer/reprod.js";
import { LAST_EPOCH } from "../layer/source-date-epoch.js";
import { log } from "../log.js";
import { readRegularFileSync } from "../paths/regular-file.js";

export interface LayerBuildRecord {
  path: string;
  /** As the pipeline writes it (src/layer/reprod.ts); older or foreign records may lack fields. */
  record: Partial<BuildRecord> & Record<string, unknown>;
  /** The build's SOURCE_DATE_EPOCH (older records: its end), when the record says. */
  epoch?: number;
}

function toEpoch(v: unknown): number | undefined {
  if (typeof v !== "string") return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

/** A build record is a few KB; one of 16 MiB is not one (nor is a FIFO or device: never read whole). */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

export function readBuildRecord(prefix: string): LayerBuildRecord | undefined {
  const dir = join(prefix, "reprod");
  if (!existsSync(dir)) return undefined;
  const stamps = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, "build.json")))
    .map((d) => d.name)
    .sort();
  const newest = stamps.at(-1);
  if (!newest) return undefined;
  const path = join(dir, newest, "build.json");
  try {
    const record = JSON.parse(readRegularFileSync(path, MAX_RECORD_BYTES)) as LayerBuildRecord["record"];
    // SOURCE_DATE_EPOCH; a record of an older compat has the build's end instead
    const sde = record.sourceDateEpoch;
    const epoch =
      typeof sde === "number" && Number.isSafeInteger(sde) && sde >= 0 && sde <= LAST_EPOCH
        ? sde
        : toEpoch(record.end);
    return { path, record, epoch };
  } catch (e) {
    log.warn(`${path}: not a readable build record (${(e as Error).message}); packing without it`);
    return undefined;
  }
}
