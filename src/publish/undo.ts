/**
 * Undo archives: before the cvmfs publisher changes a layer, the layer's own entries at every path
 * the change writes or deletes are archived on the publishing host (GNU tar, pax, no recursion,
 * only those paths) and kept in the state dir as a delta artifact with its manifest: applied onto
 * the changed layer, it deletes what the change created and puts back what it replaced. A rollback
 * is publishing that delta, in proportion to the change, with the undo of the rollback made the
 * same way (so a second rollback undoes the first). Only the latest change of a layer can be
 * rolled back, so older undo archives are removed once a newer change is recorded.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type ArtifactManifest, MANIFEST_FORMAT, serializeManifest } from "../artifacts/manifest.js";
import { artifactFileName, manifestPathFor } from "../artifacts/name.js";
import { compressTo } from "../artifacts/pack.js";
import { verifyArtifact } from "../artifacts/verify.js";
import type { CommandHost } from "../exec/host.js";
import { writeWithBackpressure } from "../exec/stream.js";
import type { Arch } from "../layer/id.js";
import { nameProblem } from "../paths/rules.js";
import type { UndoPlan } from "./change-plan.js";
import { rejection } from "./publisher.js";

export interface UndoRequest {
  host: CommandHost;
  /** The repository's `versions` directory on the host. */
  versionsPath: string;
  topDir: string;
  plan: UndoPlan;
  /** Where the archive and its manifest go (a directory of their own). */
  dir: string;
  identity: { stack: string; version: string; os: string; arch: Arch };
  /** What the undo applies onto: the changed layer (the change's artifact and resulting tree). */
  base: { artifact: string; sha256: string; treeSha256: string };
  /** The tree the undo brings back: the layer as it is now. */
  treeSha256: string;
}

export interface UndoArchive {
  artifact: string;
  manifest: ArtifactManifest;
}

function tarArgs(versionsPath: string, topDir: string): string[] {
  return [
    "env",
    "LC_ALL=C.UTF-8",
    "tar",
    "--create",
    "--file=-",
    `--directory=${versionsPath}`,
    "--format=pax",
    "--owner=root:0",
    "--group=root:0",
    `--pax-option=exthdr.name=${topDir.replace(/[%,]/g, "_")}/PaxHeaders/%f,delete=atime,delete=ctime,delete=mtime`,
    "--no-recursion",
    "--null",
    "--verbatim-files-from",
    "--files-from=-",
  ];
}

/** Archive the layer's entries the change touches, as a delta artifact in `req.dir`. */
export async function makeUndo(req: UndoRequest): Promise<UndoArchive> {
  await mkdir(req.dir, { recursive: true });
  const epoch = Math.floor(Date.now() / 1000);
  const name = artifactFileName({ ...req.identity, epoch, kind: "delta", compression: "zstd" });
  const artifact = join(req.dir, name);
  const names = Buffer.from(
    req.plan.members.map((rel) => `${rel === "" ? req.topDir : `${req.topDir}/${rel}`}\0`).join(""),
    "utf8",
  );
  const { sha256, size } = await compressTo(artifact, "zstd", async (out) => {
    const tar = req.host.spawn(tarArgs(req.versionsPath, req.topDir), { stdout: "pipe" });
    tar.stdin.end(names);
    let tarBytes = 0;
    for await (const chunk of tar.stdout as AsyncIterable<Buffer>) {
      tarBytes += chunk.length;
      const wait = writeWithBackpressure(out, chunk);
      if (wait) await wait;
    }
    await tar.done;
    return { members: 0, files: 0, contentBytes: 0, setuid: [], tarBytes };
  });
  // Read back once: the counts for the manifest, and proof that it is an archive publish accepts.
  const report = await verifyArtifact(artifact, { allowSetuid: [] });
  const blocking = report.violations.filter((v) => v.rule !== "setuid");
  if (blocking.length > 0) {
    rmSync(req.dir, { recursive: true, force: true });
    throw rejection(`the undo archive of ${req.topDir}`, blocking);
  }
  const manifest: ArtifactManifest = {
    format: MANIFEST_FORMAT,
    artifact: name,
    kind: "delta",
    sha256,
    size,
    compression: "zstd",
    members: report.members,
    files: report.files,
    contentBytes: report.contentBytes,
    topDir: req.topDir,
    ...req.identity,
    buildTime: epoch,
    createdAt: new Date().toISOString(),
    specHash: null,
    flavor: null,
    packageDatabase: null,
    packages: null,
    buildRecord: null,
    setuid: report.setuid,
    delta: { base: req.base, treeSha256: req.treeSha256, deletions: req.plan.deletions, patches: [] },
  };
  await writeFile(manifestPathFor(artifact), serializeManifest(manifest));
  return { artifact, manifest };
}

/** The directory the undo of journal entry `id` of `layer` goes in. */
export function undoDir(stateDir: string, repository: string, layer: string, id: string): string {
  return join(stateDir, "undo", repository, layer.replaceAll("/", "_"), id);
}

const JOURNAL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Whether `path` (read from the history or a journal: files on disk) is an undo archive of `layer`
 * where compat puts them, `undoDir(…, id)/<archive>`, for the journal id `id` when given. Anything
 * else (`..`, another layer's, a path outside the state dir) is never read, removed or published.
 */
export function isUndoArchiveOf(
  path: string,
  stateDir: string,
  repository: string,
  layer: string,
  id?: string,
): boolean {
  const dir = dirname(path);
  const name = basename(path);
  return (
    JOURNAL_ID.test(basename(dir)) &&
    (id === undefined || basename(dir) === id) &&
    dir === undoDir(stateDir, repository, layer, basename(dir)) &&
    nameProblem(name) === undefined
  );
}

/** Remove every undo archive of `layer` but the one in `keep` (only the latest change can be undone). */
export function pruneUndo(stateDir: string, repository: string, layer: string, keep: string | null): void {
  const parent = join(stateDir, "undo", repository, layer.replaceAll("/", "_"));
  if (!existsSync(parent)) return;
  for (const id of readdirSync(parent)) {
    const dir = join(parent, id);
    if (keep === null || !keep.startsWith(`${dir}/`)) rmSync(dir, { recursive: true, force: true });
  }
}
