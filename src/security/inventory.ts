/**
 * What is installed in an audit or SBOM target, as data for the advisory sources: a layer's prefix
 * (Portage's vdb or dpkg's status database), a `qlist -IRv` package list, or an artifact (its
 * manifest's package list; for dpkg, the status file read from the archive itself, since the
 * manifest does not keep source packages). Also the facts about the layer that sources need:
 * its Debian release and apt sources, its pinned gentoo.git commit. Everything is read; nothing in
 * the target is ever written.
 */
import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { readBuildRecord } from "../artifacts/build-record.js";
import { type ArtifactManifest, readManifest } from "../artifacts/manifest.js";
import { manifestPathFor, parseArtifactName } from "../artifacts/name.js";
import { type AptSource, readHostAptSources } from "../debian/sources.js";
import {
  type InstalledPackage as DebianPackage,
  DPKG_STATUS_PATH,
  type DpkgStatus,
  parseDpkgStatus,
} from "../debian/status.js";
import { InputError } from "../errors.js";
import { run } from "../exec/run.js";
import { flavorOfDatabase } from "../flavors/index.js";
import { detectPackageDatabase } from "../flavors/installed.js";
import { parsePackageList } from "../gentoo/qlist.js";
import {
  type InstalledPackage as GentooPackage,
  readVardb,
  type VardbField,
  VDB_PATH,
} from "../gentoo/vardb.js";
import { layerTopDir } from "../layer/id.js";
import type { Ecosystem, LayerFacts } from "./source.js";

export type TargetKind = "prefix" | "list" | "artifact";

export interface AuditTarget {
  kind: TargetKind;
  path: string;
  /** The prefix the target belongs to, when known (its advisories are the default). */
  prefix?: string;
}

const ARTIFACT_RE = /\.tar\.(zst|gz)$/;

/**
 * A directory is a prefix (has var/db/pkg or var/lib/dpkg/status) or a vdb itself; a file named
 * like an artifact is one; another file is a package list.
 */
export function resolveTarget(input: string): AuditTarget {
  const path = resolve(input);
  if (!existsSync(path))
    throw new InputError(`audit target ${input} does not exist`, {
      hint: "give a prefix (a directory with var/db/pkg or var/lib/dpkg/status), an artifact, or a package list as qlist -IRv prints it",
    });
  if (statSync(path).isDirectory()) {
    if (detectPackageDatabase(path) !== undefined) return { kind: "prefix", path, prefix: path };
    if (path.endsWith(`/${VDB_PATH}`)) return { kind: "prefix", path, prefix: resolve(path, "../../..") };
    throw new InputError(`${input} is not a layer: it has neither ${VDB_PATH} nor ${DPKG_STATUS_PATH}`, {
      hint: "give the prefix (EPREFIX) of a layer, its var/db/pkg, an artifact, or a package list",
    });
  }
  if (ARTIFACT_RE.test(path)) return { kind: "artifact", path };
  // EESSI keeps the list at <prefix>/reprod/<timestamp>/packages.txt
  const maybePrefix = resolve(dirname(path), "../..");
  const inPrefix =
    basename(resolve(dirname(path), "..")) === "reprod" && existsSync(join(maybePrefix, VDB_PATH));
  return { kind: "list", path, prefix: inPrefix ? maybePrefix : undefined };
}

interface InventoryBase {
  target: AuditTarget;
  /** Installed packages read (vdb entries, status stanzas, list lines or manifest packages): never 0. */
  installedCount: number;
  /** Installed packages present but unreadable (corrupt or partial vdb entries, bad status stanzas): not judged. */
  skippedCount: number;
  /** Entries that could not be read, each naming where. */
  warnings: string[];
  facts: LayerFacts;
  /** The flavor whose package database this is (flavorOfDatabase): which advisory sources judge it. */
  ecosystem: Ecosystem;
}

export type Inventory =
  | (InventoryBase & { database: "vardb"; packages: GentooPackage[] })
  | (InventoryBase & { database: "dpkg"; packages: DebianPackage[] });

/**
 * A file of the layer at `rel`, or undefined when it is missing or leads outside the layer (a
 * symlink a hostile layer could point at the host's files).
 */
export function layerFile(prefix: string, rel: string): string | undefined {
  const path = join(prefix, rel);
  try {
    lstatSync(path);
    const real = realpathSync(path);
    const root = realpathSync(prefix);
    if (real !== root && !real.startsWith(root + sep)) return undefined;
    return statSync(real).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

function readLayerText(prefix: string, rel: string): string | undefined {
  const file = layerFile(prefix, rel);
  return file === undefined ? undefined : readFileSync(file, "utf8");
}

/** VERSION_CODENAME of an os-release text. */
export function osReleaseCodename(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const m = /^VERSION_CODENAME=("?)([a-z][a-z0-9-]*)\1\s*$/m.exec(text);
  return m?.[2];
}

/** The commit a Gentoo repository checkout is at, from its `.git/HEAD` (a detached HEAD, or a ref). */
export function checkoutCommit(repo: string): string | undefined {
  const head = readLayerText(repo, ".git/HEAD")?.trim();
  if (!head) return undefined;
  if (/^[0-9a-f]{40}$/.test(head)) return head;
  const ref = /^ref: (refs\/[A-Za-z0-9._/-]+)$/.exec(head)?.[1];
  if (!ref || ref.includes("..")) return undefined;
  const loose = readLayerText(repo, `.git/${ref}`)?.trim();
  if (loose && /^[0-9a-f]{40}$/.test(loose)) return loose;
  const packed = readLayerText(repo, ".git/packed-refs");
  const line = packed?.split("\n").find((l) => l.endsWith(` ${ref}`));
  const hash = line?.split(" ")[0];
  return hash && /^[0-9a-f]{40}$/.test(hash) ? hash : undefined;
}

/** The facts sources need about a layer on disk. */
export async function prefixFacts(prefix: string, arch: string, label = prefix): Promise<LayerFacts> {
  const facts: LayerFacts = { label, prefix, arch };
  const build = readBuildRecord(prefix);
  if (existsSync(join(prefix, DPKG_STATUS_PATH))) {
    const os = readLayerText(prefix, "usr/lib/os-release") ?? readLayerText(prefix, "etc/os-release");
    let aptSources: AptSource[] = [];
    try {
      aptSources = await readHostAptSources(prefix);
    } catch {
      /* unreadable sources: the release alone is used */
    }
    const release =
      osReleaseCodename(os) ??
      (typeof build?.record.suite === "string" ? build.record.suite : undefined) ??
      aptSources.flatMap((s) => s.suites).find((s) => !/[-/]/.test(s));
    if (release) facts.debianRelease = release;
    if (aptSources.length > 0) facts.aptSources = aptSources;
  } else {
    const recorded = build?.record.gentooCommit;
    const commit =
      typeof recorded === "string" && /^[0-9a-f]{7,40}$/.test(recorded)
        ? recorded
        : checkoutCommit(join(prefix, "var/db/repos/gentoo"));
    if (commit) facts.gentooCommit = commit;
  }
  return facts;
}

/** What an inventory is read for, in its refusals ("there is nothing to audit"). */
export type InventoryPurpose = "audit" | "describe";

const LAYER_HINT =
  "give a layer's prefix (EPREFIX) whose var/db/pkg or var/lib/dpkg/status holds its installed packages, or its reprod/<stamp>/packages.txt";

/**
 * An inventory of nothing is refused (InputError, exit 2): a database with no installed package,
 * or none that could be read, would otherwise pass as "no findings" with nothing checked.
 */
function refuseEmpty(
  where: string,
  entries: number,
  read: number,
  problems: string[],
  purpose: InventoryPurpose,
  unit = "entries",
): void {
  if (read > 0) return;
  throw new InputError(
    entries === 0
      ? `${where} has no installed packages: there is nothing to ${purpose}`
      : `none of the ${entries} ${unit} of ${where} could be read: nothing was ${purpose === "audit" ? "audited" : "described"}`,
    { details: problems.slice(0, 20), hint: LAYER_HINT },
  );
}

/**
 * The installed packages and facts of a target. `vdbFields`: what is read of each vdb entry
 * besides its name (an audit needs SLOT only; an SBOM also the repository). A target with no
 * installed package that could be read is refused.
 */
export async function readInventory(
  target: AuditTarget,
  arch: string,
  vdbFields: readonly VardbField[] = ["SLOT"],
  purpose: InventoryPurpose = "audit",
): Promise<Inventory> {
  if (target.kind === "prefix") return prefixInventory(target, arch, vdbFields, purpose);
  if (target.kind === "artifact")
    return artifactInventory(target, (await readManifest(manifestPathFor(target.path))).manifest, purpose);
  return listInventory(target, arch, purpose);
}

async function prefixInventory(
  target: AuditTarget,
  arch: string,
  vdbFields: readonly VardbField[],
  purpose: InventoryPurpose,
): Promise<Inventory> {
  const prefix = target.prefix!;
  const facts = await prefixFacts(prefix, arch, target.path);
  if (detectPackageDatabase(prefix) !== "vardb") {
    const file = layerFile(prefix, DPKG_STATUS_PATH);
    if (!file)
      throw new InputError(`${join(prefix, DPKG_STATUS_PATH)}: not a file inside the layer`, {
        hint: "the dpkg status database must be a regular file of the layer (not a link out of it)",
      });
    return dpkgInventory(target, facts, parseDpkgStatus(readFileSync(file, "utf8")), file, [], purpose);
  }
  const vdb = readVardb(target.path, { fields: vdbFields });
  const warnings = vdb.problems.map((p) => `${p.path}: ${p.message}`);
  refuseEmpty(vdb.directory, vdb.entries.length, vdb.packages.length, warnings, purpose);
  const skipped = vdb.entries.length - vdb.packages.length;
  return {
    ecosystem: flavorOfDatabase("vardb").id,
    database: "vardb",
    target,
    packages: vdb.packages,
    installedCount: vdb.packages.length,
    skippedCount: skipped,
    warnings: withSkipped(warnings, skipped, purpose),
    facts,
  };
}

/** A debian inventory of a status database read from `where`: stanzas that could not be read are skipped and counted. */
function dpkgInventory(
  target: AuditTarget,
  facts: LayerFacts,
  status: Pick<DpkgStatus, "packages" | "problems">,
  where: string,
  warnings: string[],
  purpose: InventoryPurpose,
): Inventory {
  const skipped = status.problems.length;
  for (const p of status.problems) warnings.push(`${where}:${p.line}: ${p.message} (stanza skipped)`);
  refuseEmpty(where, status.packages.length + skipped, status.packages.length, warnings, purpose, "stanzas");
  return {
    ecosystem: flavorOfDatabase("dpkg").id,
    database: "dpkg",
    target,
    packages: status.packages,
    installedCount: status.packages.length,
    skippedCount: skipped,
    warnings: withSkipped(warnings, skipped, purpose),
    facts,
  };
}

/** The warnings, and one more saying how many installed packages were left out. */
function withSkipped(warnings: string[], skipped: number, purpose: InventoryPurpose): string[] {
  if (skipped === 0) return warnings;
  const were = skipped === 1 ? "was" : "were";
  return [
    ...warnings,
    `${skipped} installed package${skipped === 1 ? "" : "s"} could not be read and ${were} not ${purpose === "audit" ? "audited" : "described"} (see the warnings above)`,
  ];
}

function listInventory(target: AuditTarget, arch: string, purpose: InventoryPurpose): Inventory {
  const list = parsePackageList(readFileSync(target.path, "utf8"), target.path);
  // A file with no package line at all is not a list; bad lines among good ones are skipped
  // and reported, as a corrupt vdb entry is.
  if (list.packages.length === 0)
    throw new InputError(
      list.problems.length > 0
        ? `${target.path}: not a package list (${list.problems.length} bad lines)`
        : `${target.path}: no package in it (empty, or only comments): there is nothing to ${purpose}`,
      {
        details: list.problems.slice(0, 20).map((p) => `${target.path}:${p.line}: ${p.message}`),
        hint: "one category/name-version[::repo] per line, as qlist -IRv prints",
      },
    );
  const warnings = list.problems.map((p) => `${target.path}:${p.line}: ${p.message} (line skipped)`);
  if (list.packages.some((p) => p.slot === undefined))
    warnings.push(
      `${target.path} has no slots (qlist without -S): slotted advisory ranges were applied to every slot, as Portage does for slot-less entries`,
    );
  const facts: LayerFacts = { label: target.path, arch };
  const commit = target.prefix ? readBuildRecord(target.prefix)?.record.gentooCommit : undefined;
  if (typeof commit === "string") facts.gentooCommit = commit;
  if (target.prefix) facts.prefix = target.prefix;
  return {
    ecosystem: flavorOfDatabase("vardb").id,
    database: "vardb",
    target,
    packages: list.packages,
    installedCount: list.packages.length,
    skippedCount: 0,
    warnings,
    facts,
  };
}

/**
 * An artifact's packages: from its manifest, and for dpkg from the status file in the archive
 * (GNU tar reads the one member to stdout; nothing is extracted to disk).
 */
export async function artifactInventory(
  target: AuditTarget,
  manifest: ArtifactManifest,
  purpose: InventoryPurpose = "audit",
): Promise<Inventory> {
  const record = (manifest.buildRecord ?? {}) as Record<string, unknown>;
  const facts: LayerFacts = { label: target.path, arch: manifest.arch };
  const warnings: string[] = [];
  if (manifest.packageDatabase === "dpkg") {
    if (typeof record.suite === "string") facts.debianRelease = record.suite;
    let text: string | undefined;
    if (existsSync(target.path)) {
      const identity = parseArtifactName(basename(target.path));
      const member = `${layerTopDir(identity)}/${DPKG_STATUS_PATH}`;
      try {
        const r = await run("tar", [
          identity.compression === "zstd" ? "--zstd" : "--gzip",
          "-xOf",
          target.path,
          member,
        ]);
        text = r.stdout;
      } catch (e) {
        warnings.push(
          `${target.path}: cannot read ${member} (${(e as Error).message}); source packages are taken to be named like their binaries`,
        );
      }
    }
    if (text)
      return dpkgInventory(
        target,
        facts,
        parseDpkgStatus(text),
        `${target.path} (${DPKG_STATUS_PATH})`,
        warnings,
        purpose,
      );
    const packages: DebianPackage[] = (manifest.packages ?? []).map((p) => ({
      name: p.name,
      version: p.version,
      architecture: p.arch ?? "unknown",
      source: p.name,
      sourceVersion: p.version,
      status: "install ok installed",
    }));
    return dpkgInventory(
      target,
      facts,
      { packages, problems: [] },
      `${target.path} (its manifest)`,
      warnings,
      purpose,
    );
  }
  if (manifest.packageDatabase === "vardb") {
    if (typeof record.gentooCommit === "string") facts.gentooCommit = record.gentooCommit;
    const packages: GentooPackage[] = [];
    for (const p of manifest.packages ?? []) {
      const [slot, subSlot] = (p.slot ?? "").split("/");
      const category = p.name.split("/")[0] ?? "";
      packages.push({
        cpv: `${p.name}-${p.version}`,
        category,
        name: p.name.slice(category.length + 1),
        cp: p.name,
        version: p.version,
        ...(slot ? { slot, subSlot: subSlot ?? slot } : {}),
        source: `${target.path} (manifest)`,
      });
    }
    refuseEmpty(`${target.path} (its manifest)`, packages.length, packages.length, [], purpose);
    return {
      ecosystem: flavorOfDatabase("vardb").id,
      database: "vardb",
      target,
      packages,
      installedCount: packages.length,
      skippedCount: 0,
      warnings,
      facts,
    };
  }
  throw new InputError(`${target.path}: its manifest lists no installed packages`, {
    hint: "pack the layer again with this compat: the manifest keeps its package database",
  });
}

/** Path of `abs` relative to the layer, for messages. */
export const inLayer = (prefix: string, abs: string) => relative(prefix, abs) || ".";
