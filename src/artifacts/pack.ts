/**
 * Packing a layer into an artifact: the tree is taken in one fixed order, written as a tar
 * stream with fixed owner and mtimes clamped to the build time, compressed on all cores by zstd
 * (or pigz) and hashed on the way to disk. The artifact appears under its final name only when it
 * is complete; its manifest (and signature) beside it.
 *
 * A full artifact's stream is written by GNU tar (packTo; tar-gnu.ts says why, and what the stream
 * guarantees); a delta's by our own writer (writeLayerTar), which can also write members that are
 * not files of the tree.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { type FileHandle, mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { InputError, ToolError } from "../errors.js";
import { requireTool, run } from "../exec/run.js";
import { type StreamingProcess, spawnStreaming } from "../exec/stream.js";
import { readInstalledPackages } from "../flavors/installed.js";
import type { LayerId } from "../layer/id.js";
import { layerTopDir } from "../layer/id.js";
import { parseSourceDateEpoch } from "../layer/source-date-epoch.js";
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
} from "./name.js";
import { partialPath } from "./partial.js";
import { endWritable } from "./read.js";
import { signBytes } from "./sign.js";
import {
  GNU_TAR_ENV,
  gnuTarArgs,
  type ListedMember,
  listTree,
  memberList,
  parseListingLine,
  totalBytes,
} from "./tar-gnu.js";
import { TarWriter } from "./tar-writer.js";
import { walkTree } from "./tree.js";

/** Pack the layer `{stack, version, os, arch}` whose files are at `prefix`. */
export interface PackOptions extends LayerId {
  /** The layer on disk (its EPREFIX in the local repository root). */
  prefix: string;
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
  /** The layer's CycloneDX SBOM beside the manifest (`<artifact>.cdx.json`), when it has a package database. */
  sbomPath?: string;
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
  if (sde !== undefined && sde !== "") return parseSourceDateEpoch(sde, "SOURCE_DATE_EPOCH");
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
  const tmp = partialPath(path, "partial");
  const fifo = partialPath(path, "fifo");
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
    await putInPlace(tmp, path, sha256);
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

/**
 * Pack `members` of the tree at `prefix` into `path` (atomically): GNU tar writes the stream into a
 * FIFO, the compressor reads it (on all cores) and writes the file, and we hash the file as it
 * grows (the bytes are still in the page cache; nothing passes through a pipe to us, and one
 * buffer is reused). tar's listing gives the manifest's counts and setuid members.
 */
export async function packTo(
  path: string,
  compression: Compression,
  stream: { prefix: string; topDir: string; epoch: number; members: readonly ListedMember[] },
  onProgress?: (members: number, bytes: number) => void,
): Promise<{ summary: TarStreamSummary; sha256: string; size: number }> {
  const tmp = partialPath(path, "partial");
  const fifo = partialPath(path, "fifo");
  const comp = compressorFor(compression);
  await requireTool("tar");
  await requireTool(comp.cmd);
  await run("mkfifo", ["-m", "600", fifo]);
  const out = openSync(tmp, "w", 0o644);
  let outOpen = true;
  const hashing = new GrowingFileHash(tmp);
  const catchUp = setInterval(() => hashing.catchUp(), 20);
  let compressor: StreamingProcess | undefined;
  let tar: StreamingProcess | undefined;
  try {
    compressor = spawnStreaming(comp.cmd, [...comp.args, fifo], { stdoutFd: out });
    tar = spawnStreaming("tar", gnuTarArgs(stream.prefix, stream.topDir, stream.epoch, fifo), {
      env: { ...process.env, ...GNU_TAR_ENV },
    });
    // Each opens the FIFO and would wait forever for the other: one that fails stops the other.
    const [c, t] = [compressor, tar];
    c.done.catch(() => t.kill("SIGKILL"));
    t.done.catch(() => c.kill("SIGKILL"));
    tar.stdin.end(memberList(stream.members));
    const [summary] = await Promise.all([
      readListing(tar, stream.members, onProgress),
      tar.done,
      compressor.done,
    ]);
    const problem =
      summary.members !== stream.members.length
        ? `tar archived ${summary.members} of the ${stream.members.length} members it was given`
        : totalBytes(tar.stderrTail()) === undefined
          ? "tar did not say how many bytes it wrote (--totals)"
          : undefined;
    if (problem)
      throw new ToolError(problem, { command: tar.printable, exitStatus: 0, stderrTail: tar.stderrTail() });
    clearInterval(catchUp);
    const { sha256, size } = hashing.finish();
    closeSync(out);
    outOpen = false;
    await putInPlace(tmp, path, sha256);
    return { summary: { ...summary, tarBytes: totalBytes(tar.stderrTail())! }, sha256, size };
  } catch (e) {
    tar?.kill("SIGKILL");
    compressor?.kill("SIGKILL");
    if (outOpen) closeSync(out);
    await rm(tmp, { force: true });
    throw e;
  } finally {
    clearInterval(catchUp);
    hashing.close();
    await rm(fifo, { force: true });
  }
}

/** sha256 of a file that another process is still appending to, read as it grows. */
class GrowingFileHash {
  private readonly fd: number;
  private readonly hash = createHash("sha256");
  private readonly buffer = Buffer.allocUnsafe(1 << 20);
  private size = 0;
  private closed = false;

  constructor(path: string) {
    this.fd = openSync(path, "r");
  }

  /** Hash what has been written since the last call. */
  catchUp(): void {
    for (;;) {
      const n = readSync(this.fd, this.buffer, 0, this.buffer.length, this.size);
      if (n === 0) return;
      this.hash.update(this.buffer.subarray(0, n));
      this.size += n;
    }
  }

  /** Once the writer is done: the digest of the whole file. */
  finish(): { sha256: string; size: number } {
    this.catchUp();
    return { sha256: this.hash.digest("hex"), size: this.size };
  }

  close(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
  }
}

/** Read tar's listing (one line per member, in the order given) into the stream's summary. */
async function readListing(
  tar: StreamingProcess,
  members: readonly ListedMember[],
  onProgress?: (members: number, bytes: number) => void,
): Promise<Omit<TarStreamSummary, "tarBytes">> {
  let count = 0;
  let files = 0;
  let contentBytes = 0;
  const setuid: string[] = [];
  const fail = (message: string) =>
    new ToolError(message, { command: tar.printable, exitStatus: null, stderrTail: tar.stderrTail() });
  const take = (line: string) => {
    const l = parseListingLine(line);
    if (!l) throw fail(`tar printed a listing line compat cannot read: ${line.slice(0, 200)}`);
    const member = members[count];
    if (!member) throw fail(`tar archived more members than the ${members.length} it was given`);
    const rel = member.rel;
    if (l.type === "-" || l.type === "h") files++;
    if (l.type === "-") contentBytes += l.size;
    else if (!"hdl".includes(l.type))
      throw new InputError(`${rel}: became a device, fifo or socket node while the layer was being packed`);
    if (l.setuidOrSetgid && !l.directorySetgid) setuid.push(rel);
    count++;
    if (onProgress && count % 2000 === 0) onProgress(count, contentBytes);
  };
  let carry = "";
  tar.stdout.setEncoding("utf8");
  for await (const chunk of tar.stdout as AsyncIterable<string>) {
    const lines = (carry + chunk).split("\n");
    carry = lines.pop()!;
    for (const line of lines) take(line);
  }
  if (carry) take(carry);
  return { members: count, files, contentBytes, setuid };
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
  const topDir = layerTopDir(identity);
  const artifact = join(opts.outDir, name);
  let installed: Awaited<ReturnType<typeof readInstalledPackages>>;
  let packed: Awaited<ReturnType<typeof packTo>>;
  if (prepared) {
    installed = await readInstalledPackages(opts.prefix).catch(async (e: unknown) => {
      await prepared.cleanup();
      throw e;
    });
    packed = await compressTo(artifact, compression, (stdin) =>
      writeLayerTar(
        opts.prefix,
        topDir,
        epoch,
        stdin,
        prepared.include,
        opts.onProgress,
        prepared.appendPatches,
      ),
    ).finally(() => prepared.cleanup());
  } else {
    const members = listTree(opts.prefix);
    const packing = packTo(
      artifact,
      compression,
      { prefix: opts.prefix, topDir, epoch, members },
      opts.onProgress,
    );
    packing.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    // read while tar and the compressor work (a failure of the pack is reported first)
    installed = await readInstalledPackages(opts.prefix).catch(async (e: unknown) => {
      await packing;
      throw e;
    });
    packed = await packing;
  }
  const { summary, sha256, size } = packed;
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
  // the SBOM of the layer this artifact gives, when the layer has a package database
  let sbomPath: string | undefined;
  if (installed) {
    const { packedSubject, renderSbom, sbomPathFor } = await import("../sbom/index.js");
    sbomPath = sbomPathFor(artifact);
    await writeAtomic(
      sbomPath,
      Buffer.from(renderSbom(await packedSubject(opts.prefix, manifest), "cyclonedx")),
    );
  }
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
    ...(sbomPath ? { sbomPath } : {}),
    manifest,
    tarBytes: summary.tarBytes,
    durationMs: Date.now() - started,
  };
}

/**
 * Move a packed artifact to its name. An artifact's name is its layer and SOURCE_DATE_EPOCH, so
 * two different layers of one epoch (a spec's epoch pinned, or a package list changed without an
 * archive change) have the same name: the one already there (perhaps published, a delta's base)
 * is never replaced by other bytes. The same bytes again are fine (a reproducible repack).
 */
async function putInPlace(tmp: string, path: string, sha256: string): Promise<void> {
  if (existsSync(path) && hashFile(path).digest !== sha256) {
    await rm(tmp, { force: true });
    throw new InputError(
      `${path} already exists with other content: another layer of the same name (layer and SOURCE_DATE_EPOCH)`,
      {
        hint: "pack into another directory (-o DIR), or move the existing artifact aside if it is not needed; a layer whose packages changed needs a newer SOURCE_DATE_EPOCH (the spec's sourceDateEpoch, or unset it to derive it)",
      },
    );
  }
  await rename(tmp, path);
}

async function writeAtomic(path: string, data: Buffer): Promise<void> {
  const tmp = partialPath(path, "partial");
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, path);
}
