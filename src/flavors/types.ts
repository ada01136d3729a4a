/**
 * The Flavor interface (DESIGN.md "Flavors"): how a layer's packages are made. Each flavor is one
 * folder under src/flavors/ whose index.ts exports a FlavorModule; the registry in index.ts maps
 * ids to modules, so a third flavor is one more folder. Flavors are thin: they call gentoo/,
 * debian/ and layer/, and know nothing of the CLI or of how the pipeline records a run.
 */
import type { Writable } from "node:stream";
import type { BuildRoot, BuildRootSpec } from "../buildroot/types.js";
import type { RunOptions, RunResult } from "../exec/run.js";
import type { LayerRunOptions, SandboxCommand } from "../exec/sandbox.js";
import type { Arch } from "../layer/id.js";
import type { SourceDateEpoch } from "../layer/source-date-epoch.js";
import type { Distro } from "../sbom/purl.js";
import type { PathKey, RoleVariables } from "../spec/ansible/role.js";
import type { ResolvedLayer } from "../spec/resolve.js";
import type { FlavorName, LayerSpec } from "../spec/schema.js";
import type { FlavorArchDiff } from "./arch-diff.js";
import type { InstalledPackage, PackageDatabaseKind, PackageDatabaseReader } from "./package-database.js";
import type { FlavorPlanPart } from "./plan.js";
import type { StageInfo } from "./stage.js";

export type { InstalledPackage };

/** Everything a stage may use. The pipeline makes one per stage run. */
export interface StageContext {
  layer: ResolvedLayer;
  /** The spec file (absolute); relative paths in the spec are relative to its directory. */
  specFile: string;
  /** The spec file's text, as used for this build (copied into the build record). */
  specText: string;
  specHash: string;
  runId: string;
  runDir: string;
  /** The layer being built, aside from the prefix path; the sandbox shows it at `layer.prefix`. */
  prefixDir: string;
  /** Scratch space for this build, on the same filesystem as prefixDir (renames are cheap). */
  workDir: string;
  /** When the build started (first attempt), for the build record. */
  startedAt: Date;
  /** This stage's log. */
  log: Writable;
  /** Run a host program; its output goes to the stage log. */
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /**
   * The build root the build runs in (src/buildroot): the sandbox's `/` for every command run in
   * the layer and every build tool; undefined: the host's userland (`--no-build-root`, or a debian
   * layer whose spec asks for none).
   */
  buildRoot?: BuildRoot;
  /**
   * Run a command in the sandbox with the layer at its prefix path (in the build root, if any, the
   * work directory writable); output to the stage log; SOURCE_DATE_EPOCH set.
   */
  inLayer(command: SandboxCommand, opts?: LayerRunOptions): Promise<RunResult>;
  /**
   * Run a build tool (git): in the build root's sandbox when the build has one (the layer at its
   * prefix, the work directory writable, the network on), else the host's; output to the stage log.
   */
  buildTool(cmd: string, args: readonly string[], opts?: LayerRunOptions): Promise<RunResult>;
  /** A short progress note for people (shown beside the stage's spinner). */
  note(message: string): void;
  /**
   * Run the check suite (src/checks) on the layer being built, leaving its report in the run
   * directory; rejects (ValidationError) when a check failed or none ran. The pipeline provides
   * it, so that flavors/, which the checks ask about a layer's flavor, imports no checks/.
   */
  checkLayer(onResult: (r: CheckLine) => void): Promise<CheckCounts>;
  /**
   * The build's SOURCE_DATE_EPOCH: the environment variable, else the flavor's spec field, else the
   * flavor's derivation; resolved once per run (kept in the run directory, so a resumed run uses
   * the same) and given to every command run in the layer.
   */
  sourceDateEpoch(): Promise<SourceDateEpoch>;
  signal: AbortSignal;
}

/** One check's verdict, as the check stage logs it. */
export interface CheckLine {
  id: string;
  status: string;
  durationMs: number;
  evidence: { found: string };
}

export interface CheckCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * What a flavor's layers have that some checks need (a check declares the one it needs; it is
 * skipped on layers of flavors without it):
 * - `portage`: Portage with its vardb, package sets and the gentoo repository (emerge, equery), and
 *   the tools every layer built from EESSI's sets has (archspec, pip); without it a layer has the
 *   packages its spec lists and the checks of the others are skipped;
 * - `glibc-trusted-dirs`: a glibc built with user-defined trusted dirs (package.env, env file);
 * - `locale-list`: `locale -a` lists the layer's own locales (a relocated glibc lists the host's).
 */
export type FlavorCapability = "portage" | "glibc-trusted-dirs" | "locale-list";

/** What an update of a published layer starts from and is for (DESIGN.md "Update builds"). */
export interface FlavorUpdateRequest {
  /** The full artifact of the layer the target holds; undefined: nothing is published yet. */
  base?: {
    artifact: string;
    sha256: string;
    /**
     * Unpack exactly that artifact (verified on the stream it is extracted from) into `dir`;
     * resolves to the layer's directory there. A no-op when it is there already.
     */
    unpack(dir: string, signal?: AbortSignal): Promise<string>;
  };
  /** The packages the update is for (gentoo atoms, debian package names); undefined: everything. */
  packages?: readonly string[];
}

/** A stage of a build: its id and description (as `compat plan` lists them) and what it does. */
export interface BuildStage extends StageInfo {
  /** Must be safe to run again from the start after an interruption at any point. */
  run(ctx: StageContext): Promise<void>;
}

export interface Flavor {
  /** The ordered stages that build this layer. */
  plan(layer: ResolvedLayer): BuildStage[];
  /**
   * The flavor's update mode: the stages that make an updated layer from the published one (the
   * pipeline runs them like a build's, into a separate root). InputError for packages the flavor
   * cannot take. debian rebuilds from the spec; gentoo emerges over the published layer.
   */
  update(layer: ResolvedLayer, request: FlavorUpdateRequest): BuildStage[];
  /** The package database of a layer as data. */
  installed(prefixDir: string, layer: ResolvedLayer): Promise<InstalledPackage[]>;
  /**
   * Versions of the host's tools this flavor builds with, for the build record; those a build root
   * provides are left out (its package list, in the record too, has their versions).
   */
  toolVersions(buildRoot?: BuildRoot): Promise<Record<string, string>>;
  /**
   * SOURCE_DATE_EPOCH from the flavor's spec section, else derived from the build's inputs
   * (the environment variable is the pipeline's: it wins over both). See source-date-epoch.ts.
   */
  sourceDateEpoch(ctx: StageContext): Promise<SourceDateEpoch>;
}

export interface FlavorModule {
  id: FlavorName;
  displayName: string;
  /** Where to read about the flavor's upstream tools. */
  urls: string[];
  /** Whether a prefix directory holds a layer of this flavor (its package database and markers). */
  detect(prefixDir: string): boolean;
  /** The package database its layers have: what manifests, audits, diffs and SBOMs read. */
  packageDatabase: PackageDatabaseKind;
  /** That database: where it is in a prefix, how it is read, how its versions compare (`<id>/package-database.ts`). */
  packageReader: PackageDatabaseReader;
  /**
   * Ids of the advisory sources (folders under src/security/, registered in security/sources.ts)
   * that judge its packages, in the order an audit runs them; empty: its layers are not audited.
   */
  advisorySources: readonly string[];
  /** What the checks expect of its layers when the spec does not say. */
  checkDefaults: {
    /** The tools its layers must have (the `tools` check), for a layer of `version` (spec: `layer`). */
    requiredTools(version: string | undefined, layer: ResolvedLayer | undefined): string[];
    /** Where its loader looks for libraries, when the loader cannot be run to say so. */
    loaderDirs(prefix: string, arch: Arch, trustedDirs: readonly string[]): string[];
  };
  /** What its layers have that some checks need. */
  capabilities: readonly FlavorCapability[];
  /** Its items of `compat diff --arches SPEC` (`<id>/arch-diff.ts`): what each arch gets, from the spec alone. */
  archDiff: FlavorArchDiff;
  /** What its layers' plans have of their own (`compat plan`; the build writes from the plan). */
  planPart: FlavorPlanPart;
  /** Why it builds as root only (a build as another user is refused with it); undefined: any user builds. */
  rootOnly?: string;
  /**
   * Its spec section from the variables of EESSI's compatibility_layer role (`compat
   * import-ansible`), for the flavor whose layers the role builds.
   */
  ansibleRole?: {
    importSection(role: RoleVariables, prefix: string, version: string | undefined): Record<string, unknown>;
    /** Paths (in the spec) of the section's lists written in flow style. */
    flowPaths(section: Record<string, unknown>): PathKey[][];
  };
  /**
   * The distribution an SBOM's package URLs name when the layer's os-release does not say: for an
   * artifact, from its build record; for a prefix (`buildRecord` undefined).
   */
  sbomDistro(buildRecord?: Record<string, unknown>): Distro | undefined;
  /**
   * Whether its builds run in a build root when neither the command line (`--build-root`,
   * `--no-build-root`) nor a `buildRoot` section of the spec says.
   */
  buildRootByDefault: boolean;
  /** The build root its builds run in when the spec's `buildRoot` does not say (src/buildroot). */
  defaultBuildRoot(spec: LayerSpec, arch: Arch): BuildRootSpec;
  api: Flavor;
}
