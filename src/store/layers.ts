/** The layers table: each site layer as last registered from its spec. */
import { appendAudit } from "./audit.js";
import { fromJsonText, toJsonText } from "./json.js";
import type { LayersTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export interface LayerRecord {
  name: string;
  specPath: string;
  specSha256: string;
  flavor: string;
  stack: string;
  version: string;
  arches: string[];
  createdAt: string;
  updatedAt: string;
}

export type LayerRegistration = Omit<LayerRecord, "createdAt" | "updatedAt">;

/**
 * Register a layer or bring its row up to date with its spec. Audited when the layer is new or
 * its spec (path, hash or arches) changed; registering it unchanged writes nothing.
 */
export async function registerLayer(
  store: Store,
  layer: LayerRegistration,
  actor: string,
): Promise<LayerRecord> {
  return store.transaction(async (tx) => {
    await tx.lock(`layer:${layer.name}`);
    const old = await tx.db
      .selectFrom("layers")
      .selectAll()
      .where("name", "=", layer.name)
      .executeTakeFirst();
    const now = isoNow();
    const row: LayersTable = {
      name: layer.name,
      spec_path: layer.specPath,
      spec_sha256: layer.specSha256,
      flavor: layer.flavor,
      stack: layer.stack,
      version: layer.version,
      arches: toJsonText(layer.arches),
      created_at: old?.created_at ?? now,
      updated_at: now,
    };
    const changed =
      old !== undefined &&
      (old.spec_path !== row.spec_path ||
        old.spec_sha256 !== row.spec_sha256 ||
        old.arches !== row.arches ||
        old.flavor !== row.flavor ||
        old.stack !== row.stack ||
        old.version !== row.version);
    if (old === undefined) await tx.db.insertInto("layers").values(row).execute();
    else if (changed) {
      const { name: _name, created_at: _created, ...update } = row;
      await tx.db.updateTable("layers").set(update).where("name", "=", layer.name).execute();
    } else return toLayer(old);
    await appendAudit(tx, {
      actor,
      action: old === undefined ? "layer.registered" : "layer.changed",
      subject: `layer:${layer.name}`,
      detail: { spec: layer.specPath, specSha256: layer.specSha256, arches: layer.arches },
    });
    return toLayer(row);
  });
}

export async function getLayer(store: Store, name: string): Promise<LayerRecord | undefined> {
  const row = await store.db.selectFrom("layers").selectAll().where("name", "=", name).executeTakeFirst();
  return row && toLayer(row);
}

export async function listLayers(store: Store): Promise<LayerRecord[]> {
  const rows = await store.db.selectFrom("layers").selectAll().orderBy("name").execute();
  return rows.map(toLayer);
}

function toLayer(row: LayersTable): LayerRecord {
  return {
    name: row.name,
    specPath: row.spec_path,
    specSha256: row.spec_sha256,
    flavor: row.flavor,
    stack: row.stack,
    version: row.version,
    arches: fromJsonText<string[]>(row.arches),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
