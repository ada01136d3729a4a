/**
 * A build or a check on an executor (exec/job.ts): the spec and the files it names are sent, compat
 * runs there (`build --json` then `pack`, or `check --json`), its progress comes back line by line,
 * and the artifact, its manifest and the run record come back with their sha256 checked. The layer
 * stays in the build host's own root (`compat-root/<repository>` under the executor's work dir,
 * or --root there), so a later `check --on` of the same executor finds it.
 */
import { readFile, rm } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { manifestPathFor, parseArtifactName } from "../artifacts/name.js";
import { CompatError, InputError, ValidationError } from "../errors.js";
import { type CollectedFile, type JobPlace, runJob } from "../exec/job.js";
import { formatCommand } from "../exec/run.js";
import type { LayerId } from "../layer/id.js";
import { readFileInside } from "../paths/inside.js";
import { sbomPathFor } from "../sbom/index.js";
import { openSpec } from "../spec/open.js";

export interface RemoteBuildOptions {
  specFile: string;
  arch?: string;
  /** --root, as the build host sees it. */
  root?: string;
  /** Build in a root of the job's own (`$JOB/root`, gone with the job): a copy beside the live layer there. */
  ownRoot?: boolean;
  /** SOURCE_DATE_EPOCH for the build there (e.g. the epoch of the artifact it is compared with). */
  sourceDateEpoch?: number;
  place: JobPlace;
  /** Where the artifact, its manifest and the run record go here. */
  outDir: string;
  onLine: (line: string) => void;
  signal?: AbortSignal;
}

export interface RemoteBuildResult {
  arch: string;
  where: string;
  artifact: CollectedFile;
  manifest: CollectedFile;
  runRecord: CollectedFile;
  files: CollectedFile[];
  durationMs: number;
}

/** The spec and the files it names (inside its directory), as the job gets them. */
async function specFiles(
  specFile: string,
  arch: string | undefined,
): Promise<{
  arch: string;
  files: Array<{ path: string; content: Buffer }>;
  specPath: string;
  layer: LayerId;
}> {
  const { loaded, layer } = await openSpec(specFile, { arch });
  const name = basename(specFile);
  const files = [{ path: `spec/${name}`, content: Buffer.from(loaded.text) }];
  const script = (loaded.spec as { gentoo?: { bootstrap?: { script?: { path?: string } } } }).gentoo
    ?.bootstrap?.script?.path;
  // read as the local build reads it: inside the spec's directory, links included, a plain file (the
  // build there checks its sha256)
  if (script) {
    const what = "gentoo.bootstrap.script.path";
    const { content } = await readFileInside({ base: resolve(dirname(specFile)), what }, script).catch(
      (e) => {
        if (e instanceof CompatError) throw e;
        throw new InputError(`${what}: cannot read ${script}: ${(e as NodeJS.ErrnoException).code ?? e}`);
      },
    );
    files.push({ path: `spec/${script}`, content: Buffer.from(content) });
  }
  return { arch: layer.arch, files, specPath: `spec/${name}`, layer };
}

const q = (...words: string[]) => formatCommand(words[0]!, words.slice(1));

export async function buildOnExecutor(o: RemoteBuildOptions): Promise<RemoteBuildResult> {
  const started = Date.now();
  const { arch, files, specPath, layer } = await specFiles(o.specFile, o.arch);
  if (o.root && o.ownRoot)
    throw new InputError("a build on an executor takes --root or a root of its own, not both");
  if (o.sourceDateEpoch !== undefined && !Number.isSafeInteger(o.sourceDateEpoch))
    throw new InputError(`SOURCE_DATE_EPOCH ${o.sourceDateEpoch}: not a whole number of seconds`);
  const rootArgs = o.root ? ["--root", o.root] : [];
  // "$JOB" is expanded by the job's shell, so it is not quoted as a word like the other arguments
  const ownRoot = o.ownRoot ? ` --root "$JOB/root"` : "";
  const body = [
    ...(o.sourceDateEpoch !== undefined ? [`export SOURCE_DATE_EPOCH=${o.sourceDateEpoch}`] : []),
    `$COMPAT build "$JOB"/${q(specPath)} ${q("--arch", arch, "--json", ...rootArgs)}${ownRoot} --runs-dir "$JOB/runs" || exit $?`,
    `$COMPAT pack "$JOB"/${q(specPath)} ${q("--arch", arch, ...rootArgs)}${ownRoot} -o "$JOB/out" --json > "$JOB/pack.json" || exit $?`,
    // the run record, named after the artifact (one -o holds the records of several arches and runs):
    // this job's runs dir holds only this build's run
    'set --; for a in "$JOB"/out/*.tar.zst "$JOB"/out/*.tar.gz; do [ -f "$a" ] && set -- "$@" "$a"; done',
    '[ $# -eq 1 ] || { echo "compat-job: pack left $# artifacts, not 1"; exit 4; }',
    `tar -C "$JOB" -cf "$1.run-record.tar" runs || exit 4`,
    `(cd "$JOB/out" && sha256sum -- *) > "$JOB/SHA256SUMS" || exit 4`,
  ];
  const outcome = await runJob(
    o.place,
    { name: `build-${arch.replaceAll("_", "-")}`, files, body },
    {
      onLine: o.onLine,
      collectTo: o.outDir,
      signal: o.signal,
      accept: (outputs, where) => expectedOutputs(outputs, layer, where),
    },
  );
  const named = (name: string) => outcome.files.find((f) => f.name === name)!;
  const artifact = outcome.files.find((f) => ARTIFACT_RE.test(f.name))!;
  const manifest = named(manifestPathFor(artifact.name));
  const runRecord = named(runRecordFor(artifact.name));
  try {
    await checkManifest(manifest, artifact, outcome.where);
    // what a build host sends is checked as any artifact is before it is published: every member
    const { verifyArtifact } = await import("../artifacts/verify.js");
    const report = await verifyArtifact(artifact.path, { manifestPath: manifest.path });
    if (!report.ok)
      throw new ValidationError(
        `the artifact from ${outcome.where} fails verification (${report.violationCount} problem${report.violationCount === 1 ? "" : "s"}): nothing was kept`,
        { details: report.violations.slice(0, 10).map((v) => JSON.stringify(v)) },
      );
  } catch (e) {
    // only what this job put here: a file that was already in -o with the same bytes stays
    for (const f of outcome.files) if (f.created) await rm(f.path, { force: true });
    throw e;
  }
  return {
    arch,
    where: outcome.where,
    artifact,
    manifest,
    runRecord,
    files: outcome.files,
    durationMs: Date.now() - started,
  };
}

const ARTIFACT_RE = /\.tar\.(zst|gz)$/;

/** `<artifact>.run-record.tar`: the run directory of the build that made that artifact. */
export function runRecordFor(artifactName: string): string {
  return `${artifactName}.run-record.tar`;
}

/**
 * What a build job may send back: one full artifact of the asked layer (any epoch), its manifest, its
 * run record and optionally its SBOM; anything else (another arch's or version's artifact, a second
 * artifact, a stray file) is refused before a byte is copied.
 */
export function expectedOutputs(
  outputs: Array<{ name: string }>,
  layer: Pick<LayerId, "stack" | "version" | "os" | "arch">,
  where: string,
): void {
  const names = outputs.map((o) => o.name);
  const artifacts = names.filter((n) => ARTIFACT_RE.test(n));
  const refuse = (what: string) =>
    new ValidationError(`${where} returned ${what}: nothing was collected`, {
      hint: `expected one full artifact of ${layer.stack}-${layer.version}-compat-${layer.os}-${layer.arch}, its manifest and its run record`,
    });
  if (artifacts.length !== 1)
    throw refuse(`${artifacts.length} artifacts (${names.join(", ").slice(0, 300)})`);
  const a = artifacts[0]!;
  let id: ReturnType<typeof parseArtifactName>;
  try {
    id = parseArtifactName(a);
  } catch {
    throw refuse(`${JSON.stringify(a)}, not an artifact name`);
  }
  if ((["stack", "version", "os", "arch"] as const).some((k) => id[k] !== layer[k]) || id.kind !== "full")
    throw refuse(`the artifact ${a}, which is not a full artifact of the layer asked for`);
  const required = [manifestPathFor(a), runRecordFor(a)];
  for (const r of required) if (!names.includes(r)) throw refuse(`no ${r}`);
  const allowed = new Set([a, ...required, sbomPathFor(a)]);
  const extra = names.filter((n) => !allowed.has(n));
  if (extra.length > 0) throw refuse(`files that were not asked for (${extra.join(", ").slice(0, 300)})`);
}

/** The manifest the build host wrote must name the artifact we got, with the sha256 we computed. */
async function checkManifest(manifest: CollectedFile, artifact: CollectedFile, where: string): Promise<void> {
  let m: { sha256?: unknown; artifact?: unknown; name?: unknown };
  try {
    m = JSON.parse(await readFile(manifest.path, "utf8")) as typeof m;
  } catch {
    throw new ValidationError(`the manifest from ${where} (${manifest.path}) is not JSON`);
  }
  if (m.artifact !== artifact.name)
    throw new ValidationError(
      `the manifest from ${where} names ${JSON.stringify(String(m.artifact).slice(0, 120))}, not the artifact ${artifact.name} it came with`,
    );
  if (m.sha256 !== artifact.sha256)
    throw new ValidationError(
      `the manifest from ${where} gives sha256 ${String(m.sha256).slice(0, 64)}, the artifact copied here has ${artifact.sha256}`,
      { hint: "the artifact or its manifest changed on the way; run again" },
    );
}

export interface RemoteCheckResult {
  where: string;
  report: unknown;
  status: number;
}

/** `compat check SPEC` on an executor, against the layer in the build host's root. */
export async function checkOnExecutor(o: Omit<RemoteBuildOptions, "outDir"> & { outDir: string }) {
  const { arch, files, specPath } = await specFiles(o.specFile, o.arch);
  const rootArgs = o.root ? ["--root", o.root] : [];
  const body = [
    `$COMPAT check "$JOB"/${q(specPath)} ${q("--arch", arch, ...rootArgs)} --json > "$JOB/out/check.json"`,
    "status=$?",
    `(cd "$JOB/out" && sha256sum -- *) > "$JOB/SHA256SUMS" || exit 4`,
    // a failed check is a result to bring back, not a failed job
    `[ $status -le 3 ] && exit 0 || exit $status`,
  ];
  const outcome = await runJob(
    o.place,
    { name: `check-${arch.replaceAll("_", "-")}`, files, body },
    { onLine: o.onLine, collectTo: o.outDir, signal: o.signal },
  );
  const file = outcome.files.find((f) => f.name === "check.json");
  if (!file) throw new ValidationError(`${outcome.where} did not return the check report`);
  let report: unknown;
  try {
    report = JSON.parse(await readFile(file.path, "utf8"));
  } catch {
    throw new InputError(`the check report from ${outcome.where} is not JSON`);
  }
  return { where: outcome.where, report, arch };
}

export interface RemoteUpdateOptions {
  /** The compat update arguments after the layer name (--arch, --from, --packages …), checked by the caller's parser. */
  layer: string;
  args: string[];
  /** The site config as the build host sees it. */
  config: string;
  place: JobPlace;
  outDir: string;
  onLine: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * `compat update LAYER` on an executor with the site config the build host reads (its store is the
 * site's shared one): its progress streamed, its JSON result brought back with its sha256 checked.
 * Returns the result and the remote exit status (0 ready or unchanged, 3 gates failed).
 */
export async function updateOnExecutor(
  o: RemoteUpdateOptions,
): Promise<{ where: string; result: unknown; status: number }> {
  const body = [
    `$COMPAT update ${q(o.layer, ...o.args, "--config", o.config, "--json")} > "$JOB/out/update.json"`,
    "status=$?",
    // bad input or a failed tool is the job's failure; a candidate whose gates failed is a result
    `[ $status -eq 0 ] || [ $status -eq 3 ] || exit $status`,
    `echo $status > "$JOB/out/status"`,
    `(cd "$JOB/out" && sha256sum -- *) > "$JOB/SHA256SUMS" || exit 4`,
  ];
  const outcome = await runJob(
    o.place,
    { name: "update", files: [], body },
    { onLine: o.onLine, collectTo: o.outDir, signal: o.signal },
  );
  const read = async (name: string) => {
    const f = outcome.files.find((x) => x.name === name);
    if (!f) throw new ValidationError(`${outcome.where} did not return ${name}`);
    return readFile(f.path, "utf8");
  };
  const status = Number((await read("status")).trim());
  let result: unknown;
  try {
    result = JSON.parse(await read("update.json"));
  } catch {
    throw new ValidationError(`the update result from ${outcome.where} is not JSON`);
  }
  return { where: outcome.where, result, status: status === 3 ? 3 : 0 };
}
