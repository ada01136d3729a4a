/**
 * Artifact names and the top directory inside them (DESIGN.md "Artifacts"):
 *   <stack>-<version>-compat-<os>-<arch>-<unix epoch>[.delta].tar.<zst|gz>
 * with every member under `<version>/compat/<os>/<arch>/`, relative to the repository's `versions/`.
 */
import { InputError } from "../errors.js";
import { ARCHES, type Arch } from "../spec/schema.js";

export type Compression = "zstd" | "gzip";
export type ArtifactKind = "full" | "delta";

export interface ArtifactIdentity {
  stack: string;
  version: string;
  os: string;
  arch: Arch;
  /** The build time: the name's timestamp and the clamp for every member's mtime. */
  epoch: number;
  kind: ArtifactKind;
  compression: Compression;
}

export const EXTENSIONS: Record<Compression, string> = { zstd: "zst", gzip: "gz" };

const NAME_RE =
  /^(?<stack>[a-z0-9][a-z0-9_-]*?)-(?<version>[0-9][0-9A-Za-z._-]*)-compat-(?<os>[a-z]+)-(?<arch>[a-z0-9_]+)-(?<epoch>[0-9]+)(?<delta>\.delta)?\.tar\.(?<ext>zst|gz)$/;

export function artifactFileName(id: ArtifactIdentity): string {
  const delta = id.kind === "delta" ? ".delta" : "";
  return `${id.stack}-${id.version}-compat-${id.os}-${id.arch}-${id.epoch}${delta}.tar.${EXTENSIONS[id.compression]}`;
}

/** `<version>/compat/<os>/<arch>`: the one directory every member lives in. */
export function topDirOf(id: Pick<ArtifactIdentity, "version" | "os" | "arch">): string {
  return `${id.version}/compat/${id.os}/${id.arch}`;
}

/** Parse an artifact file name (no directory); throws InputError saying what the name should look like. */
export function parseArtifactName(fileName: string): ArtifactIdentity {
  const m = NAME_RE.exec(fileName);
  const g = m?.groups;
  if (!g)
    throw new InputError(`${fileName}: not an artifact name`, {
      hint: "expected <stack>-<version>-compat-<os>-<arch>-<unix epoch>[.delta].tar.<zst|gz>, e.g. eessi-2025.06-compat-linux-x86_64-1750000000.tar.zst",
    });
  if (!(ARCHES as readonly string[]).includes(g.arch!))
    throw new InputError(`${fileName}: unknown architecture ${g.arch}`, {
      hint: `expected one of ${ARCHES.join(", ")}`,
    });
  return {
    stack: g.stack!,
    version: g.version!,
    os: g.os!,
    arch: g.arch as Arch,
    epoch: Number(g.epoch),
    kind: g.delta ? "delta" : "full",
    compression: g.ext === "zst" ? "zstd" : "gzip",
  };
}

/** The manifest and signature that sit beside an artifact. */
export function manifestPathFor(artifactPath: string): string {
  return `${artifactPath}.manifest.json`;
}

export function signaturePathFor(manifestPath: string): string {
  return `${manifestPath}.sig`;
}
