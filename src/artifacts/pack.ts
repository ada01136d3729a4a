/**
 * Packing a layer into an artifact: the tree is walked in one fixed order, written as a tar
 * stream with fixed owner and mtimes clamped to the build time, compressed on all cores by zstd
 * (or pigz) and hashed on the way to disk. The artifact appears under its final name only when it
 * is complete; its manifest (and signature) beside it.
 */
import { existsSync } from "node:fs";
import { type FileHandle, mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Writable } from "node:stream";
import { InputError, ToolError } from "../errors.js";
import { requireTool, run } from "../exec/run.js";
import { readInstalledPackages } from "../layer/installed.js";
import type { Arch } from "../spec/schema.js";
import { readBuildRecord } from "./build-record.js";
import { compressorFor } from "./compress.js";
import { prepareDelta } from "./delta-make.js";
import { hashFile } from "./entry-index.js";
import { type ArtifactManifest, MANIFEST_FORMAT, serializeManifest } from "./manifest.js";
import {
  type ArtifactIdentity,
  artifactFileName,
  type Compression,
  manifestPathFor,
  signaturePathFor,
  topDirOf,
} from "./name.js";
import { type StreamingProcess, spawnStreaming } from "./process.js";
import { endWritable } from "./read.js";
import { signBytes } from "./sign.js";
import { TarWriter } from "./tar-writer.js";
import { walkTree } from "./tree.js";

export interface PackOptions {
  /** The layer on disk (its EPREFIX in the local repository root). */
  prefix: string;
  stack: string;
  version: string;
  os: string;
  arch: Arch;
  outDir: string;
  compression?: Compression;
  /** Build time; default SOURCE_DATE_EPOCH, then the build record's time, then the newest mtime. */
  epoch?: number;
  specHash?: string | null;
  flavor?: string | null;
  /** Sign the manifest with this ed25519 private key. */
  signingKey?: string;
  /** Make a delta against this (full) artifact. */
  deltaFrom?: string;
  /** In a delta, ship changed files whole instead of as patches. */
  noPatches?: boolean;
  /** Progress callback: members written so far. */
  onProgress?: (members: number, bytes: number) => void;
}

export interface PackResult {
  artifact: string;
  manifestPath: string;
  signaturePath?: string;
  manifest: ArtifactManifest;
  /** Uncompressed tar bytes. */
  tarBytes: number;
  durationMs: number;
}

export interface TarStreamSummary {
  members: number;
  files: number;
  contentBytes: number;
  setuid: string[];
  tarBytes: number;
}

/** Write the tar stream of `prefix` under `topDir` into `out`, keeping only `include`d paths. */
export async function writeLayerTar(
  prefix: string,
  topDir: string,
  epoch: number,
  out: Writable,
  include?: (rel: string) => boolean,
  onProgress?: (members: number, bytes: number) => void,
  /** Members written after the tree's (a delta's patches). */
  append?: (tar: TarWriter, topDir: string) => Promise<{ files: number; contentBytes: number }>,
): Promise<TarStreamSummary> {
  const tar = new TarWriter(out);
  const special: string[] = [];
  const setuid: string[] = [];
  let files = 0;
  let contentBytes = 0;
  for (const e of walkTree(prefix)) {
    if (include && !include(e.rel)) continue;
    const name = e.rel ? `${topDir}/${e.rel}` : topDir;
    const mtime = Math.min(e.mtime, epoch);
    if ((e.mode & 0o6000) !== 0 && !(e.type === "directory" && (e.mode & 0o6000) === 0o2000))
      setuid.push(e.rel);
    switch (e.type) {
      case "special":
        special.push(`${e.abs}: ${e.special}`);
        continue;
      case "directory":
        await tar.addHeader({ name: `${name}/`, type: "directory", mode: e.mode, size: 0, mtime });
        break;
      case "symlink":
        await tar.addHeader({ name, type: "symlink", mode: 0o777, size: 0, mtime, linkname: e.linkTarget! });
        break;
      case "hardlink":
        files++;
        await tar.addHeader({
          name,
          type: "hardlink",
          mode: e.mode,
          size: 0,
          mtime,
          linkname: `${topDir}/${e.linkTarget}`,
        });
        break;
      case "file":
        files++;
        contentBytes += await tar.addFile({ name, mode: e.mode, mtime }, e.abs);
        break;
    }
    if (onProgress && tar.members % 2000 === 0) onProgress(tar.members, tar.bytes);
  }
  if (special.length > 0)
    throw new InputError(
      `${prefix}: the layer has ${special.length} device, fifo or socket node(s); an artifact cannot carry them`,
      {
        details: special.slice(0, 20),
        hint: "remove them from the layer (compat check lists them too)",
      },
    );
  if (append) {
    const added = await append(tar, topDir);
    files += added.files;
    contentBytes += added.contentBytes;
  }
  await tar.finish();
  return { members: tar.members, files, contentBytes, setuid, tarBytes: tar.bytes };
}

/** One cheap pass (lstat only) before anything is written: refuse special files, find the newest mtime. */
function scanTree(prefix: string): { newestMtime: number } {
  let newest = 0;
  const special: string[] = [];
  for (const e of walkTree(prefix)) {
    if (e.mtime > newest) newest = e.mtime;
    if (e.type === "special") special.push(`${e.abs}: ${e.special}`);
  }
  if (special.length > 0)
    throw new InputError(
      `${prefix}: the layer has ${special.length} device, fifo or socket node(s); an artifact cannot carry them`,
      {
        details: special.slice(0, 20),
        hint: "remove them from the layer (compat check lists them too)",
      },
    );
  return { newestMtime: newest };
}

function resolveEpoch(opts: PackOptions, buildEpoch: number | undefined, newestMtime: () => number): number {
  if (opts.epoch !== undefined) return opts.epoch;
  const sde = process.env.SOURCE_DATE_EPOCH;
  if (sde !== undefined && sde !== "") {
    if (!/^\d+$/.test(sde)) throw new InputError(`SOURCE_DATE_EPOCH=${sde}: not a unix time in seconds`);
    return Number(sde);
  }
  return buildEpoch ?? newestMtime();
}

/**
 * A writable over a FIFO opened for writing: each write is a blocking write(2) on libuv's thread
 * pool, so the main thread goes on producing the next chunk while the compressor reads this one.
 * (A child's stdin pipe is non-blocking and only written when the event loop runs, which would
 * leave the compressor waiting whenever the producer is busy.)
 */
function fifoWriter(fh: FileHandle): Writable {
  return new Writable({
    highWaterMark: 0,
    write(chunk: Buffer, _enc, cb) {
      (async () => {
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      })().then(() => cb(), cb);
    },
    final(cb) {
      fh.close().then(() => cb(), cb);
    },
  });
}

/**
 * Compress a tar stream produced by `produce` into `path` (atomically): the compressor reads a FIFO
 * and writes the file itself; the file is hashed once complete.
 */
export async function compressTo(
  path: string,
  compression: Compression,
  produce: (out: Writable) => Promise<TarStreamSummary>,
): Promise<{ summary: TarStreamSummary; sha256: string; size: number }> {
  const base = join(dirname(path), `.${basename(path)}`);
  const tmp = `${base}.partial-${process.pid}`;
  const fifo = `${base}.fifo-${process.pid}`;
  const comp = compressorFor(compression);
  await requireTool(comp.cmd);
  await run("mkfifo", ["-m", "600", fifo]);
  const out = await open(tmp, "w", 0o644);
  let proc: StreamingProcess | undefined;
  let input: FileHandle | undefined;
  try {
    proc = spawnStreaming(comp.cmd, [...comp.args, fifo], { stdoutFd: out.fd });
    const compressor = proc;
    // Opening a FIFO for writing waits for its reader; a compressor that dies first never opens it.
    input = await Promise.race([
      open(fifo, "w"),
      compressor.done.then(() => {
        throw new ToolError(`${comp.cmd} exited before reading its input`, {
          command: compressor.printable,
          exitStatus: 0,
        });
      }),
    ]);
    const writer = fifoWriter(input);
    const summary = await produce(writer);
    await endWritable(writer);
    input = undefined;
    await compressor.done;
    await out.close();
    const { digest: sha256, size } = hashFile(tmp);
    await rename(tmp, path);
    return { summary, sha256, size };
  } catch (e) {
    proc?.kill("SIGKILL");
    await input?.close().catch(() => {});
    await out.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  } finally {
    await rm(fifo, { force: true });
  }
}

export async function packLayer(opts: PackOptions): Promise<PackResult> {
  const started = Date.now();
  if (!existsSync(opts.prefix))
    throw new InputError(`${opts.prefix}: no layer there`, {
      hint: "build it first (compat build SPEC), or give the prefix directory",
    });
  const compression = opts.compression ?? "zstd";
  const build = readBuildRecord(opts.prefix);
  // Without a given build time the newest mtime is it: one lstat-only pass, which also refuses
  // special files before anything is written (otherwise the packing pass refuses them).
  const epoch = resolveEpoch(opts, build?.epoch, () => scanTree(opts.prefix).newestMtime);

  await mkdir(opts.outDir, { recursive: true });
  const prepared = opts.deltaFrom
    ? await prepareDelta({ ...opts, deltaFrom: opts.deltaFrom, workDir: opts.outDir, epoch })
    : undefined;
  const delta = prepared?.delta;
  const identity: ArtifactIdentity = {
    stack: opts.stack,
    version: opts.version,
    os: opts.os,
    arch: opts.arch,
    epoch,
    kind: delta ? "delta" : "full",
    compression,
  };
  const name = artifactFileName(identity);
  const topDir = topDirOf(identity);
  const artifact = join(opts.outDir, name);
  const installed = await readInstalledPackages(opts.prefix).catch(async (e: unknown) => {
    await prepared?.cleanup();
    throw e;
  });
  const { summary, sha256, size } = await compressTo(artifact, compression, (stdin) =>
    writeLayerTar(
      opts.prefix,
      topDir,
      epoch,
      stdin,
      prepared?.include,
      opts.onProgress,
      prepared?.appendPatches,
    ),
  ).finally(() => prepared?.cleanup());
  const manifest: ArtifactManifest = {
    format: MANIFEST_FORMAT,
    artifact: name,
    kind: identity.kind,
    sha256,
    size,
    compression,
    members: summary.members,
    files: summary.files,
    contentBytes: summary.contentBytes,
    topDir,
    stack: opts.stack,
    version: opts.version,
    os: opts.os,
    arch: opts.arch,
    buildTime: epoch,
    createdAt: new Date().toISOString(),
    specHash: opts.specHash ?? (typeof build?.record.specHash === "string" ? build.record.specHash : null),
    flavor: opts.flavor ?? (typeof build?.record.flavor === "string" ? build.record.flavor : null),
    packageDatabase: installed?.database ?? null,
    packages: installed?.packages ?? null,
    buildRecord: build?.record ?? null,
    setuid: summary.setuid,
    ...(delta ? { delta } : {}),
  };
  const manifestPath = manifestPathFor(artifact);
  const bytes = Buffer.from(serializeManifest(manifest));
  await writeAtomic(manifestPath, bytes);
  let signaturePath: string | undefined;
  if (opts.signingKey) {
    signaturePath = signaturePathFor(manifestPath);
    const sig = await signBytes(bytes, opts.signingKey);
    await writeAtomic(signaturePath, Buffer.from(`${JSON.stringify(sig, null, 2)}\n`));
  }
  return {
    artifact,
    manifestPath,
    signaturePath,
    manifest,
    tarBytes: summary.tarBytes,
    durationMs: Date.now() - started,
  };
}

async function writeAtomic(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.partial-${process.pid}`;
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, path);
}
