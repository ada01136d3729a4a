/**
 * Artifact names and the top directory inside them (DESIGN.md "Artifacts"):
 *   <stack>-<version>-compat-<os>-<arch>-<unix epoch>[.delta].tar.<zst|gz>
 * with every member under `<version>/compat/<os>/<arch>/`, relative to the repository's `versions/`.
 */
import { InputError } from "../errors.js";
import { ARCHES, type Arch, type LayerId } from "../layer/id.js";

export type Compression = "zstd" | "gzip";
export type ArtifactKind = "full" | "delta";

/** A layer's identity plus what makes one artifact of it. */
export interface ArtifactIdentity extends LayerId {
  /** The build time: the name's timestamp and the clamp for every member's mtime. */
  epoch: number;
  kind: ArtifactKind;
  compression: Compression;
}

export const EXTENSIONS: Record<Compression, string> = { zstd: "zst", gzip: "gz" };

const NAME_RE =
  /^(?<stack>[a-z0-9][a-z0-9_-]*?)-(?<version>[0-9][0-9A-Za-z._-]*)-compat-(?<os>[a-z]+)-(?<arch>[a-z0-9_]+)-(?<epoch>[0-9]+)(?<delta>\.delta)?\.tar\.(?<ext>zst|gz)$/;

/**
 * The file name of an artifact. Its parts come from a spec, a build record or a flag: the name must
 * read back as the same identity (so it is one file name, without "/" or ".."), else InputError.
 */
export function artifactFileName(id: ArtifactIdentity): string {
  const delta = id.kind === "delta" ? ".delta" : "";
  const name = `${id.stack}-${id.version}-compat-${id.os}-${id.arch}-${id.epoch}${delta}.tar.${EXTENSIONS[id.compression]}`;
  const back = NAME_RE.exec(name)?.groups;
  if (!back || (["stack", "version", "os", "arch"] as const).some((k) => back[k] !== String(id[k])))
    throw new InputError(
      `cannot name an artifact of stack ${JSON.stringify(id.stack)}, version ${JSON.stringify(id.version)}, os ${JSON.stringify(id.os)}: ${JSON.stringify(name)} does not read back as it`,
      {
        hint: "a stack is lower-case letters, digits and _ (a - only where no digit follows it), a version starts with a digit, an os is lower-case letters (as in the spec)",
      },
    );
  return name;
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
