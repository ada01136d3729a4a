/** The artifacts table: every artifact compat made or took in, by its sha256, with its manifest. */
import type { Selectable } from "kysely";
import { CompatError } from "../errors.js";
import { fromJsonText, type JsonValue, toJsonText } from "./json.js";
import type { ArtifactsTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export type ArtifactKind = "full" | "delta";

export interface ArtifactRecord {
  sha256: string;
  kind: ArtifactKind;
  /** For a delta: the sha256 of the artifact it applies to. */
  baseSha256: string | null;
  path: string;
  size: number;
  manifest: JsonValue;
  manifestSha256: string;
  layer: string | null;
  arch: string | null;
  createdAt: string;
}

export type NewArtifact = Omit<ArtifactRecord, "createdAt" | "baseSha256" | "layer" | "arch"> & {
  baseSha256?: string;
  layer?: string;
  arch?: string;
};

/**
 * Record an artifact; recording the same sha256 again returns the first record (with its path
 * updated when the file moved). The same sha256 with another manifest is refused (exit 3): the
 * bytes of an artifact fix its manifest.
 */
export async function recordArtifact(store: Store, artifact: NewArtifact): Promise<ArtifactRecord> {
  return store.transaction(async (tx) => {
    await tx.lock(`artifact:${artifact.sha256}`);
    const old = await tx.db
      .selectFrom("artifacts")
      .selectAll()
      .where("sha256", "=", artifact.sha256)
      .executeTakeFirst();
    if (old) {
      if (old.manifest_sha256 !== artifact.manifestSha256 || old.kind !== artifact.kind)
        throw new CompatError(
          "check",
          `artifact ${artifact.sha256} is already recorded with manifest ${old.manifest_sha256} (${old.kind}), not ${artifact.manifestSha256} (${artifact.kind})`,
        );
      if (old.path === artifact.path) return toArtifact(old);
      const moved = await tx.db
        .updateTable("artifacts")
        .set({ path: artifact.path })
        .where("sha256", "=", artifact.sha256)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toArtifact(moved);
    }
    const row = await tx.db
      .insertInto("artifacts")
      .values({
        sha256: artifact.sha256,
        kind: artifact.kind,
        base_sha256: artifact.baseSha256 ?? null,
        path: artifact.path,
        size: artifact.size,
        manifest: toJsonText(artifact.manifest),
        manifest_sha256: artifact.manifestSha256,
        layer: artifact.layer ?? null,
        arch: artifact.arch ?? null,
        created_at: isoNow(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toArtifact(row);
  });
}

export async function getArtifact(store: Store, sha256: string): Promise<ArtifactRecord | undefined> {
  const row = await store.db
    .selectFrom("artifacts")
    .selectAll()
    .where("sha256", "=", sha256)
    .executeTakeFirst();
  return row && toArtifact(row);
}

export async function listArtifacts(
  store: Store,
  filter: { layer?: string; arch?: string; limit?: number } = {},
): Promise<ArtifactRecord[]> {
  let q = store.db.selectFrom("artifacts").selectAll();
  if (filter.layer !== undefined) q = q.where("layer", "=", filter.layer);
  if (filter.arch !== undefined) q = q.where("arch", "=", filter.arch);
  const rows = await q
    .orderBy("created_at", "desc")
    .limit(filter.limit ?? 100)
    .execute();
  return rows.map(toArtifact);
}

function toArtifact(row: Selectable<ArtifactsTable>): ArtifactRecord {
  return {
    sha256: row.sha256,
    kind: row.kind as ArtifactKind,
    baseSha256: row.base_sha256,
    path: row.path,
    size: row.size,
    manifest: fromJsonText(row.manifest),
    manifestSha256: row.manifest_sha256,
    layer: row.layer,
    arch: row.arch,
    createdAt: row.created_at,
  };
}
