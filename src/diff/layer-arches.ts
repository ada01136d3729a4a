/**
 * How the built layers of one version differ across arches: `compat diff --arches LAYER_A LAYER_B
 * …`, each a prefix directory or an artifact (verified as it is read). Packages come from the
 * layer's own database (layer/installed.ts; an artifact's dpkg status member, or its manifest);
 * check results from `compat check --json` reports (or a build's run-directory
 * check-report.json), matched to the layers by their target's arch.
 */
import { statSync } from "node:fs";
import { basename } from "node:path";
import { z } from "zod";
import { readBuildRecord } from "../artifacts/build-record.js";
import { indexArtifact } from "../artifacts/entry-index.js";
import { type ArtifactManifest, readManifest } from "../artifacts/manifest.js";
import { parseArtifactName } from "../artifacts/name.js";
import { targetFromPrefix } from "../checks/prefix-target.js";
import { DEBIAN_ARCH } from "../debian/mmdebstrap.js";
import { DPKG_STATUS_PATH, parseDpkgStatus } from "../debian/status.js";
import { InputError, ValidationError } from "../errors.js";
import { flavorOfDatabase } from "../flavors/index.js";
import {
  compareInstalledVersions,
  type InstalledPackage,
  type InstalledPackages,
  type PackageDatabaseKind,
  packageKey,
  readInstalledPackages,
} from "../flavors/installed.js";
import { ARCHES, type Arch, parseLayerPath } from "../layer/id.js";
import { readRegularFile } from "../paths/regular-file.js";
import { type ArchColumn, type ArchComparison, compareArches, hasArchDifferences } from "./arches.js";

const LAYER_HINT =
  "give each arch's layer as a prefix directory (…/versions/<version>/compat/<os>/<arch>) or a full artifact (.tar.zst/.tar.gz with its .manifest.json beside it)";

export interface ArchLayer {
  source: string;
  kind: "prefix" | "artifact";
  arch: Arch;
  database: PackageDatabaseKind;
  /** `gentoo` or `debian`, as the layer says (its database, the manifest). */
  flavor: string;
  os: string;
  /** Where the layer does not say (a bare prefix outside versions/, no build record), undefined. */
  stack?: string;
  version?: string;
  packages: InstalledPackage[];
}

/** A prefix directory or an artifact, opened as one arch's layer; anything else is an InputError. */
export async function openArchLayer(source: string): Promise<ArchLayer> {
  let isDir: boolean;
  try {
    isDir = statSync(source).isDirectory();
  } catch {
    throw new InputError(`${source}: no such file or directory`, { hint: LAYER_HINT });
  }
  if (isDir) return openPrefix(source);
  if (/\.tar\.(zst|gz)$/.test(basename(source))) return openArtifact(source);
  throw new InputError(`${source}: not a layer (neither a directory nor an artifact .tar.zst/.tar.gz)`, {
    hint: LAYER_HINT,
  });
}

async function openPrefix(dir: string): Promise<ArchLayer> {
  const target = await targetFromPrefix(dir);
  const installed = await readInstalledPackages(target.localPrefix);
  if (!installed)
    throw new InputError(`${dir}: not a compatibility layer (no package database)`, { hint: LAYER_HINT });
  const record = readBuildRecord(target.localPrefix)?.record;
  const recorded = (field: "arch" | "version" | "os", found: string | undefined) => {
    const said = record?.[field];
    if (typeof said === "string" && found !== undefined && said !== found)
      throw new InputError(
        `${dir}: its build record (reprod/…/build.json) says ${field} ${said}, its path says ${found}`,
        { hint: "a layer is moved whole: put it back at the path it was built for, or rebuild it" },
      );
  };
  recorded("arch", target.arch);
  recorded("version", target.version);
  recorded("os", target.os);
  const layer: ArchLayer = {
    source: dir,
    kind: "prefix",
    arch: target.arch,
    database: installed.database,
    flavor: target.flavor,
    os: target.os,
    stack: recordedStack(dir, record?.stack),
    version: target.version ?? recordedVersion(dir, record?.version),
    packages: installed.packages,
  };
  return { ...layer, packages: nativePackages(layer, installed) };
}

/** A build record's stack, when it names one the way a spec does (it is shown and compared). */
function recordedStack(dir: string, stack: unknown): string | undefined {
  if (stack === undefined) return undefined;
  if (typeof stack === "string" && /^[a-z0-9][a-z0-9_-]*$/.test(stack)) return stack;
  throw new InputError(`${dir}: its build record's stack ${JSON.stringify(stack)} is not a stack name`, {
    hint: "a stack is lower-case letters, digits, _ and - (e.g. eessi), as in the layer's spec",
  });
}

/** A build record's version, for a prefix whose path has none (`…/versions/<version>/…`). */
function recordedVersion(dir: string, version: unknown): string | undefined {
  if (version === undefined) return undefined;
  if (typeof version === "string" && /^[0-9][0-9A-Za-z._-]*$/.test(version)) return version;
  throw new InputError(`${dir}: its build record's version ${JSON.stringify(version)} is not a version`, {
    hint: "a version starts with a digit, e.g. 2025.06, as in the layer's spec",
  });
}

/** The largest dpkg status file read from an artifact (a full Debian desktop's is about 10 MB). */
const MAX_STATUS_BYTES = 64 * 1024 * 1024;

async function openArtifact(path: string): Promise<ArchLayer> {
  const identity = parseArtifactName(basename(path));
  if (identity.kind === "delta")
    throw new InputError(`${path}: a delta artifact carries only what changed, not a layer`, {
      hint: "give the full artifact of each arch",
    });
  const chunks: Buffer[] = [];
  let statusBytes = 0;
  // indexArtifact verifies every member as `compat verify` does, and refuses (exit 3) what fails
  const { report, index } = await indexArtifact(path, {
    contentSink: (rel) =>
      rel === DPKG_STATUS_PATH
        ? {
            write: (c) => {
              statusBytes += c.length;
              if (statusBytes <= MAX_STATUS_BYTES) chunks.push(c);
            },
            end: () => {},
          }
        : undefined,
  });
  if (!report.manifest)
    throw new InputError(`${path}: no manifest beside it (${path}.manifest.json)`, {
      hint: "the manifest says which packages the layer has: keep it beside the artifact (compat pack writes it)",
    });
  const { manifest } = await readManifest(report.manifest);
  // dpkg's database is a regular file: as a link (or empty) it would leave the manifest's list unchecked
  const statusMember = index.get(DPKG_STATUS_PATH);
  if (statusMember && (statusMember.type !== "file" || statusMember.digest.startsWith("special:")))
    throw new ValidationError(
      `${path}: its ${DPKG_STATUS_PATH} is a ${statusMember.type}, not dpkg's database file`,
      {
        hint: "dpkg writes its status as a regular file: repack the layer from a tree dpkg made",
      },
    );
  if (manifest.packageDatabase === "dpkg" && statusBytes === 0)
    throw new ValidationError(
      `${path}: its manifest lists the packages of a dpkg database, and the artifact has no (or an empty) ${DPKG_STATUS_PATH}`,
      { hint: "the manifest was edited or belongs to another artifact: repack the layer" },
    );
  const installed = artifactPackages(path, manifest, statusBytes, chunks);
  const flavor = flavorOfDatabase(installed.database).id;
  if (manifest.flavor !== null && manifest.flavor !== flavor)
    throw new InputError(
      `${report.manifest}: flavor ${JSON.stringify(manifest.flavor)}, but the layer's package database is ${installed.database} (${flavor})`,
      { hint: "the manifest belongs to another artifact, or was edited: repack the layer" },
    );
  const layer: ArchLayer = {
    source: path,
    kind: "artifact",
    arch: identity.arch,
    database: installed.database,
    flavor,
    os: identity.os,
    stack: identity.stack,
    version: identity.version,
    packages: installed.packages,
  };
  return { ...layer, packages: nativePackages(layer, installed) };
}

/**
 * An artifact's packages: its own dpkg database when it has one (the manifest must agree with
 * it), else the manifest's list (a Gentoo vardb is many files; the manifest's sha256 binds the
 * archive, the list is what compat pack read from the tree).
 */
function artifactPackages(
  path: string,
  manifest: ArtifactManifest,
  statusBytes: number,
  chunks: Buffer[],
): InstalledPackages {
  const listed =
    manifest.packageDatabase && manifest.packages
      ? { database: manifest.packageDatabase, packages: manifest.packages }
      : undefined;
  if (statusBytes === 0) {
    if (!listed)
      throw new InputError(`${path}: neither the artifact nor its manifest says which packages it has`, {
        hint: "repack the layer with compat pack, which records its packages in the manifest",
      });
    return listed;
  }
  if (statusBytes > MAX_STATUS_BYTES)
    throw new InputError(
      `${path}: its var/lib/dpkg/status has ${statusBytes} bytes, more than a layer's can`,
    );
  const status = parseDpkgStatus(Buffer.concat(chunks).toString("utf8"));
  const own: InstalledPackages = {
    database: "dpkg",
    packages: status.packages.map((p) => ({ name: p.name, version: p.version, arch: p.architecture })),
  };
  if (listed) {
    const line = (p: InstalledPackage) => `${packageKey(p)}=${p.version}`;
    const a = new Set(own.packages.map(line));
    const b = new Set(listed.packages.map(line));
    const onlyOwn = [...a].filter((x) => !b.has(x));
    const onlyListed = [...b].filter((x) => !a.has(x));
    if (listed.database !== "dpkg" || onlyOwn.length > 0 || onlyListed.length > 0)
      throw new ValidationError(`${path}: its manifest's packages are not those of its dpkg database`, {
        details: [
          ...onlyOwn.slice(0, 10).map((x) => `in the artifact, not in the manifest: ${x}`),
          ...onlyListed.slice(0, 10).map((x) => `in the manifest, not in the artifact: ${x}`),
        ],
        hint: "the manifest was edited or belongs to another artifact: repack the layer",
      });
  }
  return own;
}

/**
 * Packages keyed the same on every arch: a Debian package of the layer's own architecture (or
 * `all`) by its name, a foreign one (multiarch) as name:arch. A debian layer whose database holds
 * no package of its own architecture is not the arch it claims to be.
 */
function nativePackages(layer: ArchLayer, installed: InstalledPackages): InstalledPackage[] {
  if (installed.database !== "dpkg") return installed.packages;
  const native = DEBIAN_ARCH[layer.arch];
  const archOf = (p: InstalledPackage) => p.arch ?? "all";
  const own = installed.packages.filter((p) => archOf(p) === native).length;
  const foreign = installed.packages.filter((p) => archOf(p) !== native && archOf(p) !== "all");
  if (own === 0 && foreign.length > 0) {
    const seen = [...new Set(foreign.map(archOf))].join(", ");
    throw new InputError(
      `${layer.source}: a layer of ${layer.arch} by its ${layer.kind === "prefix" ? "path" : "name"}, but its dpkg database holds ${seen} packages, none of ${native}`,
      { hint: `a ${layer.arch} layer's packages are Debian's ${native}: is it another arch's layer?` },
    );
  }
  return installed.packages.map((p) => {
    const a = archOf(p);
    const { arch: _arch, ...rest } = p;
    return a === native || a === "all" ? rest : { ...rest, name: `${p.name}:${a}` };
  });
}

/** The part of a `compat check --json` report this reads (docs/cli.md, "check"). */
const checkReportSchema = z.object({
  target: z.object({
    prefix: z.string(),
    flavor: z.string(),
    arch: z.enum(ARCHES, {
      error: (i) => `${JSON.stringify(i.input)} is not an arch (expected one of ${ARCHES.join(", ")})`,
    }),
    os: z.string().optional(),
    version: z.string().optional(),
  }),
  results: z
    .array(
      z.object({
        id: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: "not a check id (e.g. world-writable)" }),
        title: z.string(),
        status: z.enum(["pass", "fail", "skip"]),
        evidence: z.object({ found: z.string() }),
      }),
    )
    .min(1, { message: "no check results: a report that checked nothing cannot show that two arches agree" }),
});
export type ArchCheckReport = z.infer<typeof checkReportSchema> & { file: string };

const MAX_REPORT_BYTES = 64 * 1024 * 1024;

export async function readCheckReport(file: string): Promise<ArchCheckReport> {
  let text: string;
  try {
    text = await readRegularFile(file, MAX_REPORT_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      `--check-report ${file}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
      {
        hint: "give a report written by compat check LAYER --json, or a build's runs/<id>/check-report.json",
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`--check-report ${file}: not JSON (${(e as Error).message})`);
  }
  const parsed = checkReportSchema.safeParse(json);
  if (parsed.success) {
    const seen = new Set<string>();
    const twice = [
      ...new Set(parsed.data.results.map((r) => r.id).filter((id) => seen.has(id) || !seen.add(id))),
    ];
    if (twice.length > 0)
      throw new InputError(
        `--check-report ${file}: check ${twice.slice(0, 5).join(", ")} reported more than once`,
        {
          hint: "compat check reports each check once: a report with two results for one check says both pass and fail",
        },
      );
  }
  if (!parsed.success)
    throw new InputError(`--check-report ${file}: not a check report`, {
      details: parsed.error.issues.slice(0, 10).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
      hint: "expected the JSON of compat check --json: {target: {prefix, flavor, arch, version}, results: [{id, title, status, evidence}]}",
    });
  return { ...parsed.data, file };
}

export interface ArchLayerSummary {
  source: string;
  kind: ArchLayer["kind"];
  arch: Arch;
  flavor: string;
  stack: string | null;
  version: string | null;
  os: string;
  database: PackageDatabaseKind;
  packages: number;
  checkReport: string | null;
}

export interface ArchCheckComparison extends ArchComparison {
  /** What each check found on each arch, for the checks whose status is not the same everywhere. */
  found: Record<string, Partial<Record<Arch, string>>>;
}

export interface LayerArchDiff {
  form: "layers";
  layers: ArchLayerSummary[];
  /** Items are packages (`category/name:slot` for vardb, names for dpkg), valued by their versions. */
  packages: ArchComparison & { database: PackageDatabaseKind };
  /** Items are check ids, valued by their status; null when no reports were given. */
  checks: ArchCheckComparison | null;
  notes: string[];
}

/** The identity all layers must share; a difference is an InputError naming every layer's value. */
function requireSame(
  layers: readonly ArchLayer[],
  field: "database" | "stack" | "version" | "os",
  what: string,
): void {
  const known = layers.filter((l) => l[field] !== undefined);
  const values = new Set(known.map((l) => l[field]));
  if (values.size <= 1) return;
  throw new InputError(
    `the layers are of different ${what}s: they are not one layer built for several arches`,
    {
      details: known.map(
        (l) => `${l.source}: ${what} ${field === "database" ? `${l.flavor} (${l.database})` : l[field]}`,
      ),
      hint: `compare the layers of one ${what} (compat diff A B compares any two layers)`,
    },
  );
}

/** Compare opened layers (and their check reports) across arches, in the order of ARCHES. */
export function layerArchDiff(
  given: readonly ArchLayer[],
  reports: readonly ArchCheckReport[] = [],
): LayerArchDiff {
  const layers = [...given].sort((a, b) => ARCHES.indexOf(a.arch) - ARCHES.indexOf(b.arch));
  if (layers.length < 2)
    throw new InputError(
      `one layer given (${layers[0]?.source ?? "none"}, ${layers[0]?.arch ?? "?"}): there is nothing to compare across arches`,
      { hint: "give the layers of two or more arches: compat diff --arches LAYER_A LAYER_B …" },
    );
  const byArch = new Map<Arch, ArchLayer>();
  for (const l of layers) {
    const other = byArch.get(l.arch);
    if (other)
      throw new InputError(`two layers of ${l.arch}: ${other.source} and ${l.source}`, {
        hint: "give one layer of each arch (compat diff A B compares two builds of one arch)",
      });
    byArch.set(l.arch, l);
  }
  const empty = layers.filter((l) => l.packages.length === 0);
  if (empty.length > 0)
    throw new InputError(
      `${empty.map((l) => l.source).join(", ")}: no installed package in its package database: there is nothing to compare`,
      {
        hint: "a built layer's database lists its packages (dpkg's status, Portage's vardb): is it a layer, and was it read whole?",
      },
    );
  requireSame(layers, "database", "flavor");
  requireSame(layers, "stack", "stack");
  requireSame(layers, "version", "version");
  requireSame(layers, "os", "os");
  const database = layers[0]!.database;
  const columns: ArchColumn[] = layers.map((l) => ({
    arch: l.arch,
    items: new Map(l.packages.map((p) => [packageKey(p), p.version])),
  }));
  const packages = {
    database,
    ...compareArches(columns, (a, b) => compareInstalledVersions(database, a, b) === 0),
  };
  const notes: string[] = [];
  if (layers.some((l) => l.version === undefined))
    notes.push(
      `the version of ${layers
        .filter((l) => l.version === undefined)
        .map((l) => l.source)
        .join(", ")} is not known (no versions/<version>/ in its path, no build record): it was not compared`,
    );
  const reportOf = new Map<Arch, ArchCheckReport>();
  for (const r of reports) {
    const layer = byArch.get(r.target.arch as Arch);
    if (!layer)
      throw new InputError(
        `--check-report ${r.file}: a report on ${r.target.arch} (${r.target.prefix}), and no layer of that arch is compared`,
        { hint: `give the ${r.target.arch} layer too, or leave its report out` },
      );
    const other = reportOf.get(layer.arch);
    if (other)
      throw new InputError(`two check reports on ${layer.arch}: ${other.file} and ${r.file}`, {
        hint: "give one report per arch",
      });
    if (
      r.target.flavor !== layer.flavor ||
      (r.target.version && layer.version && r.target.version !== layer.version)
    )
      throw new InputError(
        `--check-report ${r.file}: a report on a ${r.target.flavor} layer${r.target.version ? ` of ${r.target.version}` : ""}, but ${layer.source} is ${layer.flavor}${layer.version ? ` ${layer.version}` : ""}`,
        { hint: `give the report of compat check on ${layer.source}` },
      );
    // the prefix the report checked names its layer: another version's, os' or arch's is not this one's
    const checked = parseLayerPath(r.target.prefix);
    if (
      checked &&
      (checked.arch !== layer.arch ||
        checked.os !== layer.os ||
        (layer.version !== undefined && checked.version !== layer.version))
    )
      throw new InputError(
        `--check-report ${r.file}: a report on ${r.target.prefix}, not on a layer of ${layer.version ?? "?"}/compat/${layer.os}/${layer.arch} like ${layer.source}`,
        { hint: `give the report of compat check on ${layer.source}` },
      );
    reportOf.set(layer.arch, r);
  }
  let checks: ArchCheckComparison | null = null;
  if (reports.length === 1)
    throw new InputError(
      `one check report given (${reports[0]!.file}): check results are compared across two or more arches`,
      {
        hint: "give a --check-report for each of at least two of the layers",
      },
    );
  if (reports.length > 1) {
    const withReports = layers.filter((l) => reportOf.has(l.arch));
    const comparison = compareArches(
      withReports.map((l) => ({
        arch: l.arch,
        items: new Map(reportOf.get(l.arch)!.results.map((r) => [r.id, r.status])),
      })),
    );
    const found: ArchCheckComparison["found"] = {};
    // each report's results by id (ids are unique: readCheckReport), not searched per check
    const byId = new Map(
      withReports.map((l) => [l.arch, new Map(reportOf.get(l.arch)!.results.map((r) => [r.id, r]))]),
    );
    for (const item of [...comparison.archSpecific, ...comparison.differing]) {
      found[item.name] = {};
      for (const l of withReports) {
        const res = byId.get(l.arch)!.get(item.name);
        if (res) found[item.name]![l.arch] = res.evidence.found;
      }
    }
    checks = { ...comparison, found };
    const without = layers.filter((l) => !reportOf.has(l.arch));
    if (without.length > 0)
      notes.push(
        `check results not compared for ${without.map((l) => l.arch).join(", ")}: no --check-report given`,
      );
  }
  if (database === "vardb" && layers.some((l) => l.kind === "artifact"))
    notes.push(
      "a gentoo artifact's packages are the ones its manifest lists (written by compat pack from the layer's vardb)",
    );
  return {
    form: "layers",
    layers: layers.map((l) => ({
      source: l.source,
      kind: l.kind,
      arch: l.arch,
      flavor: l.flavor,
      stack: l.stack ?? null,
      version: l.version ?? null,
      os: l.os,
      database: l.database,
      packages: l.packages.length,
      checkReport: reportOf.get(l.arch)?.file ?? null,
    })),
    packages,
    checks,
    notes,
  };
}

export function layerArchDiffHasDifferences(d: LayerArchDiff): boolean {
  return hasArchDifferences(d.packages) || (d.checks !== null && hasArchDifferences(d.checks));
}
