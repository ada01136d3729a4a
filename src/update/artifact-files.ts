/**
 * Artifacts on disk as the store knows them: recording one (its sha256, its manifest and the
 * manifest's sha256, read from the files), and proving, right before a decision depends on it,
 * that the files are still exactly what was recorded (approved, gated, published).
 */

import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { hashFile } from "../artifacts/entry-index.js";
import { type ArtifactManifest, readManifest } from "../artifacts/manifest.js";
import { manifestPathFor } from "../artifacts/name.js";
import { IoError, ValidationError } from "../errors.js";
import { type ArtifactRecord, recordArtifact } from "../store/artifacts.js";
import type { JsonValue } from "../store/json.js";
import type { Store } from "../store/store.js";

export const sha256Of = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/** Read an artifact's files: its sha256 and size, its manifest and the manifest's sha256. */
export async function readArtifactFiles(path: string): Promise<{
  path: string;
  sha256: string;
  size: number;
  manifest: ArtifactManifest;
  manifestSha256: string;
}> {
  const abs = resolve(path);
  const { manifest, bytes } = await readManifest(manifestPathFor(abs));
  const { digest, size } = hashOrFail(abs, "the artifact");
  if (digest !== manifest.sha256)
    throw new ValidationError(
      `${abs}: its sha256 is ${digest}, its manifest says ${manifest.sha256}: the file changed after it was packed`,
      { hint: `run: compat verify ${abs}` },
    );
  return { path: abs, sha256: digest, size, manifest, manifestSha256: sha256Of(bytes) };
}

/** Record the artifact at `path` in the store (idempotent on its sha256). */
export async function recordArtifactFile(
  store: Store,
  path: string,
  at: { layer?: string; arch?: string } = {},
): Promise<ArtifactRecord> {
  const a = await readArtifactFiles(path);
  return recordArtifact(store, {
    sha256: a.sha256,
    kind: a.manifest.kind,
    ...(a.manifest.delta ? { baseSha256: a.manifest.delta.base.sha256 } : {}),
    path: a.path,
    size: a.size,
    manifest: a.manifest as unknown as JsonValue,
    manifestSha256: a.manifestSha256,
    ...at,
  });
}

/**
 * Prove that the artifact and its manifest on disk are the ones the store recorded: exit 3 when
 * either changed (naming both digests), exit 4 when a file is gone. `why` says what relies on it.
 */
export function assertArtifactUnchanged(record: ArtifactRecord, why: string): void {
  const { digest } = hashOrFail(record.path, `the artifact ${record.sha256.slice(0, 16)}… (${why})`);
  if (digest !== record.sha256)
    throw new ValidationError(
      `${record.path} changed on disk: its sha256 is now ${digest}, not ${record.sha256} (${why}); nothing was done`,
      {
        hint: "the artifact was modified or replaced after it was recorded: find out how, and build the update again",
      },
    );
  const manifestPath = manifestPathFor(record.path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(manifestPath);
  } catch (e) {
    throw new IoError(`cannot read ${manifestPath} (${(e as NodeJS.ErrnoException).code ?? e}) (${why})`);
  }
  const sha = sha256Of(bytes);
  if (sha !== record.manifestSha256)
    throw new ValidationError(
      `${manifestPath} changed on disk: its sha256 is now ${sha}, not ${record.manifestSha256} (${why}); nothing was done`,
    );
}

function hashOrFail(path: string, what: string): { digest: string; size: number } {
  try {
    if (!statSync(path).isFile()) throw new IoError(`${path} (${what}) is not a file`);
    return hashFile(path);
  } catch (e) {
    if (e instanceof IoError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new IoError(
      `${what} ${path} cannot be read (${code === "ENOENT" ? "it is gone" : (code ?? String(e))})`,
      {
        hint: "the state directory's artifacts were moved or removed: restore them, or build the update again",
      },
    );
  }
}
