/**
 * What an SBOM describes, independent of its format: the layer (name, version, the artifact's
 * sha256 when it is one), when it was built, its distribution, and one entry per installed package
 * with its purl. Built from the same inventory the audit reads (a prefix or an artifact), so the
 * SBOM lists what the audit judged.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { readBuildRecord } from "../artifacts/build-record.js";
import { hashFile } from "../artifacts/entry-index.js";
import { readManifest } from "../artifacts/manifest.js";
import { manifestPathFor } from "../artifacts/name.js";
import { DPKG_STATUS_PATH } from "../debian/status.js";
import { InputError, ValidationError } from "../errors.js";
import { getFlavor } from "../flavors/index.js";
import { VDB_PATH } from "../gentoo/vardb.js";
import { parseLayerPath } from "../layer/id.js";
import {
  type AuditTarget,
  artifactInventory,
  type Inventory,
  layerFile,
  readInventory,
} from "../security/inventory.js";
import { type Distro, debPurl, ebuildPurl } from "./purl.js";

export interface SbomPackage {
  name: string;
  version: string;
  purl: string;
  /** Properties scanners may ignore: Debian arch and source, Gentoo slot and repository. */
  properties: Record<string, string>;
}

export interface SbomSubject {
  /** `<stack>-<version>-compat-<os>-<arch>` (or the directory's name). */
  name: string;
  /** The layer's version (`2025.06`) when known. */
  version?: string;
  arch: string;
  /** The build time (unix seconds): the document's timestamp, so the same layer gives the same bytes. */
  buildTime: number;
  /** sha256 of the artifact, when the SBOM describes one. */
  sha256?: string;
  database: "dpkg" | "vardb";
  distro?: Distro;
  packages: SbomPackage[];
}

function parseOsRelease(text: string | undefined): Distro | undefined {
  if (!text) return undefined;
  const field = (k: string) => new RegExp(`^${k}=("?)(.*)\\1\\s*$`, "m").exec(text)?.[2];
  const id = field("ID");
  if (!id || !/^[a-z0-9._-]+$/.test(id)) return undefined;
  const versionId = field("VERSION_ID");
  const prettyName = field("PRETTY_NAME");
  return {
    id,
    ...(versionId && /^[A-Za-z0-9._~-]+$/.test(versionId) ? { versionId } : {}),
    ...(prettyName ? { prettyName } : {}),
  };
}

function packagesOf(inventory: Inventory, distro: Distro | undefined): SbomPackage[] {
  if (inventory.database === "dpkg")
    return inventory.packages
      .map((p) => ({
        name: p.name,
        version: p.version,
        purl: debPurl(p, distro),
        properties: {
          "compat:package:arch": p.architecture,
          "compat:package:source": `${p.source} ${p.sourceVersion}`,
        },
      }))
      .sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
  return inventory.packages
    .map((p) => ({
      name: p.cp,
      version: p.version,
      purl: ebuildPurl(p.cp, p.version),
      properties: {
        ...(p.slot
          ? { "compat:package:slot": p.subSlot && p.subSlot !== p.slot ? `${p.slot}/${p.subSlot}` : p.slot }
          : {}),
        ...(p.repo ? { "compat:package:repository": p.repo } : {}),
      },
    }))
    .sort((a, b) => (a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0));
}

/** The SBOM subject of a layer's prefix (`stack` from the build record when not given). */
export async function prefixSubject(
  prefix: string,
  opts: { stack?: string; arch?: string } = {},
): Promise<SbomSubject> {
  if (!existsSync(join(prefix, "var/db/pkg")) && !existsSync(join(prefix, "var/lib/dpkg/status")))
    throw new InputError(
      `${prefix}: no layer with a package database there (no var/db/pkg, no var/lib/dpkg/status)`,
      {
        hint: "build the layer first, or give its prefix directory",
      },
    );
  const m = parseLayerPath(prefix);
  const arch = opts.arch ?? m?.arch ?? "unknown";
  const inventory = await readInventory(
    { kind: "prefix", path: prefix, prefix },
    arch,
    ["SLOT", "repository"],
    "describe",
  );
  const build = readBuildRecord(prefix);
  const stack = opts.stack ?? (typeof build?.record.stack === "string" ? build.record.stack : undefined);
  const distro = parseOsRelease(
    (() => {
      const f = layerFile(prefix, "usr/lib/os-release") ?? layerFile(prefix, "etc/os-release");
      return f ? readFileSync(f, "utf8") : undefined;
    })(),
  );
  // no build record: the package database's own time, so the output still depends on the layer only
  const dbFile = join(prefix, inventory.database === "dpkg" ? DPKG_STATUS_PATH : VDB_PATH);
  const buildTime = build?.epoch ?? (existsSync(dbFile) ? Math.floor(statSync(dbFile).mtimeMs / 1000) : 0);
  return {
    name: m ? `${stack ? `${stack}-` : ""}${m.version}-compat-${m.os}-${m.arch}` : basename(prefix),
    ...(m ? { version: m.version } : {}),
    arch,
    buildTime,
    database: inventory.database,
    ...(distro ? { distro } : {}),
    packages: packagesOf(inventory, distro ?? getFlavor(inventory.ecosystem).sbomDistro()),
  };
}

/**
 * The SBOM subject of an artifact: its manifest (checked against the artifact's sha256 and size,
 * so the SBOM describes these bytes) and, for dpkg, the status file inside it.
 */
export async function artifactSubject(path: string, opts: { verify?: boolean } = {}): Promise<SbomSubject> {
  const { manifest } = await readManifest(manifestPathFor(path));
  if (opts.verify !== false) {
    const { digest, size } = hashFile(path);
    if (digest !== manifest.sha256 || size !== manifest.size)
      throw new ValidationError(`${path}: its sha256 or size is not the manifest's`, {
        hint: "the artifact or its manifest changed after packing: run compat verify on it",
      });
  }
  const target: AuditTarget = { kind: "artifact", path };
  const inventory = await artifactInventory(target, manifest, "describe");
  const record = (manifest.buildRecord ?? {}) as Record<string, unknown>;
  const distro = getFlavor(inventory.ecosystem).sbomDistro(record);
  return {
    name: `${manifest.stack}-${manifest.version}-compat-${manifest.os}-${manifest.arch}`,
    version: manifest.version,
    arch: manifest.arch,
    buildTime: manifest.buildTime,
    sha256: manifest.sha256,
    database: inventory.database,
    distro,
    packages: packagesOf(inventory, distro),
  };
}

/** The SBOM `compat pack` writes beside an artifact: the packed prefix, named and timed as the manifest says. */
export async function packedSubject(
  prefix: string,
  manifest: { stack: string; version: string; os: string; arch: string; buildTime: number; sha256: string },
): Promise<SbomSubject> {
  const subject = await prefixSubject(prefix, { stack: manifest.stack, arch: manifest.arch });
  return {
    ...subject,
    name: `${manifest.stack}-${manifest.version}-compat-${manifest.os}-${manifest.arch}`,
    version: manifest.version,
    buildTime: manifest.buildTime,
    sha256: manifest.sha256,
  };
}

/** Debian's release numbers by codename (os-release VERSION_ID), for artifacts whose record names the suite. */
export function requireFile(path: string): void {
  if (!existsSync(path)) throw new InputError(`${path}: no such file or directory`);
}
