/**
 * The manifest that sits beside every artifact (`<artifact>.manifest.json`): what the artifact
 * is (identity, sha256, size, member count, top dir), where it came from (spec hash, flavor,
 * installed packages, build record) and, for a delta, what it applies to and what it deletes.
 * The signature (`.sig`) is over the manifest's exact bytes, so it also binds the sha256.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { z } from "zod";
import { InputError } from "../errors.js";
import { ARCHES } from "../layer/id.js";

export const MANIFEST_FORMAT = "compat-artifact/1";

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { message: "not a sha256 (64 hex digits)" });

export const installedPackageSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  slot: z.string().optional(),
  arch: z.string().optional(),
});

/**
 * A changed file shipped as a binary patch: the archive member `member` (under the reserved
 * `.compat-delta/` dir) turns the base layer's file `from` (the same path, or one the delta deletes:
 * a renamed file) into `path`. Applying it refuses a base file whose sha256 is not `baseSha256` and
 * a result whose sha256 is not `sha256`.
 */
export const patchSchema = z.object({
  path: z.string().min(1).describe("the file in the new layer, relative to topDir"),
  from: z.string().min(1).describe("the base layer's file the patch applies to, relative to topDir"),
  member: z.string().min(1).describe("the patch's member, relative to topDir (.compat-delta/NNNNNN)"),
  method: z.literal("zstd-patch-from").describe("zstd -d --patch-from=<from> <member>"),
  baseSha256: sha256,
  baseSize: z.number().int().nonnegative(),
  sha256: sha256.describe("sha256 of the patched file"),
  size: z.number().int().nonnegative().describe("bytes of the patched file"),
  mode: z.number().int().min(0).max(0o7777).describe("the patched file's permission bits"),
  mtime: z.number().int().nonnegative().describe("the patched file's mtime (clamped to buildTime)"),
});

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  artifact: z.string().min(1).describe("the artifact's file name"),
  kind: z.enum(["full", "delta"]),
  sha256: sha256.describe("sha256 of the compressed artifact file"),
  size: z.number().int().nonnegative().describe("bytes of the compressed artifact file"),
  compression: z.enum(["zstd", "gzip"]),
  members: z.number().int().nonnegative().describe("tar members (directories, files, links)"),
  files: z.number().int().nonnegative().describe("regular files and hard links"),
  contentBytes: z.number().int().nonnegative().describe("bytes of regular file content"),
  topDir: z.string().min(1).describe("<version>/compat/<os>/<arch>, relative to the repository's versions/"),
  stack: z.string().min(1),
  version: z.string().min(1),
  os: z.string().min(1),
  arch: z.enum(ARCHES),
  buildTime: z.number().int().nonnegative().describe("unix epoch; every member's mtime is clamped to it"),
  createdAt: z.string().describe("when the artifact was packed (ISO 8601)"),
  specHash: z.string().nullable(),
  flavor: z.string().nullable(),
  packageDatabase: z.enum(["vardb", "dpkg"]).nullable(),
  packages: z.array(installedPackageSchema).nullable(),
  buildRecord: z.unknown().nullable().describe("the layer's reprod/<stamp>/build.json"),
  setuid: z.array(z.string()).describe("members with setuid/setgid bits (relative to topDir)"),
  delta: z
    .object({
      base: z.object({
        artifact: z.string(),
        sha256,
        treeSha256: sha256
          .optional()
          .describe("the base's layer tree (paths, types, modes, content; as treeSha256 computes it)"),
      }),
      treeSha256: sha256
        .optional()
        .describe("the layer tree the delta produces from its base: what the next delta's base is"),
      deletions: z.array(z.string()).describe("paths relative to topDir removed from the base"),
      patches: z
        .array(patchSchema)
        .default([])
        .describe("changed files shipped as binary patches against the base's files"),
    })
    .optional(),
});

export type ArtifactManifest = z.infer<typeof manifestSchema>;
export type InstalledPackageRecord = z.infer<typeof installedPackageSchema>;
export type DeltaPatch = z.infer<typeof patchSchema>;

export function serializeManifest(m: ArtifactManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** A manifest lists members' metadata, not their content: far below this even for the largest layer. */
const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

/** The bytes of a regular file (a FIFO would block the read, a device never end it). */
async function readRegularBytes(path: string, max: number): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error("not a regular file");
    if (st.size > max) throw new Error(`${st.size} bytes, more than a manifest has`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

export async function readManifest(path: string): Promise<{ manifest: ArtifactManifest; bytes: Buffer }> {
  let bytes: Buffer;
  try {
    bytes = await readRegularBytes(path, MAX_MANIFEST_BYTES);
  } catch (e) {
    throw new InputError(
      `cannot read manifest ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      {
        hint: "the manifest is written beside the artifact as <artifact>.manifest.json; pass another with --manifest",
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw new InputError(`${path}: not JSON (${(e as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success)
    throw new InputError(`${path}: not an artifact manifest`, {
      details: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    });
  return { manifest: parsed.data, bytes };
}
