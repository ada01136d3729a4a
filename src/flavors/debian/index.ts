/**
 * The debian flavor: Debian binary packages (mmdebstrap) relocated into the prefix with patchelf
 * (reference/relocation.md). Minutes instead of hours, for development, CI and demos, with the
 * limits listed in the README. The work itself is in src/debian and src/layer; this module puts it
 * in order and in the sandbox.
 */
import { existsSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { configureDebianLayer } from "../../debian/configure.js";
import { checkDebianPackages, runMmdebstrap } from "../../debian/mmdebstrap.js";
import { suitesReleaseDate } from "../../debian/release-date.js";
import { readHostAptSources } from "../../debian/sources.js";
import { formatPackageList, readDpkgStatus } from "../../debian/status.js";
import { InputError } from "../../errors.js";
import { assertArchRunnable, describeEmulation } from "../../exec/emulation.js";
import { unmountUnder } from "../../exec/mounts.js";
import { requireTool } from "../../exec/run.js";
import { ensureSandbox } from "../../exec/sandbox.js";
import { generateLocales, installLocaleLister } from "../../layer/locales.js";
import { assertRelocated, formatRelocationReport, relocateTree } from "../../layer/relocate.js";
import { resolveSourceDateEpoch, type SourceDateEpoch } from "../../layer/source-date-epoch.js";
import {
  checkStage,
  finalizeStage,
  hostLinksStage,
  recordStage,
  requireFreeSpace,
  toolVersion,
} from "../common.js";
import { applyPlannedFiles, prefixConfinement } from "../files.js";
import { planLayer } from "../plan.js";
import type { BuildStage, Flavor, InstalledPackage, StageContext } from "../types.js";
import { planPart } from "./plan-part.js";
import { debianSuiteFor } from "./spec-section.js";
import { DEBIAN_STAGES, type DebianStageId } from "./stages.js";

export const id = "debian" as const;
export const displayName = "Debian, relocated";
export { defaultBuildRoot } from "./build-root.js";
/**
 * mmdebstrap makes its packages from the Debian archive and its stages and checks run the layer's
 * own programs: the host's userland does not go into the layer, so a build root only when the
 * spec has a `buildRoot` section (or `--build-root`).
 */
export const buildRootByDefault = false;
/** Whether a prefix directory holds a layer of this flavor. */
export { archDiff } from "./arch-diff.js";
export { checkDefaults } from "./check-defaults.js";
export { detect } from "./detect.js";
export { advisorySources, capabilities, packageDatabase, sbomDistro } from "./facts.js";
export { packageReader } from "./package-database.js";
export { planPart } from "./plan-part.js";

/**
 * Tried as another user: mmdebstrap's unshare mode builds the tree, but it holds files of
 * subordinate ids (apt's lists, private dirs) that relocating as the user cannot read.
 */
export const rootOnly =
  "as a user other than root mmdebstrap builds in a user namespace, and the tree it leaves has files owned by subordinate ids that the relocation cannot read";

export const urls = ["https://gitlab.mister-muffin.de/josch/mmdebstrap", "https://github.com/NixOS/patchelf"];

/** Host programs a debian-flavor build runs. */
export const HOST_TOOLS = ["mmdebstrap", "patchelf"];

/** A Debian binary package name (Debian Policy §5.6.1). */
/** A package as apt takes it: `name`, or `name=version` (a Debian version: epoch, upstream, revision). */
const DEBIAN_REQUEST_RE = /^[a-z0-9][a-z0-9+.-]+(=([0-9]+:)?[0-9A-Za-z][0-9A-Za-z.+~:-]*)?$/;

const stage = (sid: DebianStageId, run: (ctx: StageContext) => Promise<void>): BuildStage => {
  const info = DEBIAN_STAGES.find((s) => s.id === sid)!;
  return { id: info.id, description: info.description, run };
};

const settingsOf = (ctx: StageContext) => {
  const s = ctx.layer.spec.debian;
  if (!s) throw new InputError("flavor debian needs a `debian:` section");
  return s;
};

/** In the run directory: what the relocate and configure stages did (RelocationReport, ConfigureReport). */
export const RELOCATION_REPORT = "relocation.json";
export const CONFIGURE_REPORT = "configure.json";

async function writeRunReport(ctx: StageContext, name: string, report: unknown): Promise<void> {
  await writeFile(join(ctx.runDir, name), `${JSON.stringify(report, null, 2)}\n`);
}

/** Where mmdebstrap puts the tree before it is moved to the prefix. */
const rootfsOf = (ctx: StageContext) => join(ctx.workDir, "rootfs");

async function preflight(ctx: StageContext): Promise<void> {
  const emulation = assertArchRunnable(ctx.layer.arch);
  ctx.note(`${ctx.layer.arch} programs run ${describeEmulation(emulation)}`);
  for (const t of HOST_TOOLS) await requireTool(t);
  // mmdebstrap refuses a foreign arch without arch-test (it asks it whether the arch runs here)
  if (!emulation.native) await requireTool("arch-test");
  await ensureSandbox();
  requireFreeSpace(ctx, settingsOf(ctx).requiredSpace, "debian.requiredSpace", "a debian layer");
  // A package apt does not have would otherwise stop mmdebstrap only after it installed the
  // essential packages (about a minute); `mmdebstrap --simulate` says so in about 3 s.
  // fixed now, before anything is installed: mmdebstrap and the maintainer scripts run under it
  // (a bad SOURCE_DATE_EPOCH stops the build here, before the 3 s of the simulation)
  await ctx.sourceDateEpoch();
  const s = settingsOf(ctx);
  ctx.note(`apt resolves ${s.packages.length} package(s) of ${debianSuiteFor(s, ctx.layer.arch)}`);
  await checkDebianPackages({ settings: s, arch: ctx.layer.arch, logTo: ctx.log, signal: ctx.signal });
}

/** debian.sourceDateEpoch, else the newest verified Release Date of the build's suites (release-date.ts). */
async function sourceDateEpoch(ctx: StageContext): Promise<SourceDateEpoch> {
  const s = settingsOf(ctx);
  return resolveSourceDateEpoch({
    spec: s.sourceDateEpoch,
    specField: "debian.sourceDateEpoch",
    derive: async () =>
      suitesReleaseDate({
        settings: s,
        arch: ctx.layer.arch,
        hostSources: s.mirror ? [] : await readHostAptSources(),
        logTo: ctx.log,
        signal: ctx.signal,
      }),
  });
}

async function bootstrap(ctx: StageContext): Promise<void> {
  const rootfs = rootfsOf(ctx);
  // a tree left by a killed run; mmdebstrap's own mount namespace means it has no mounts, but a
  // build of an older compat may have left them
  await unmountUnder(rootfs);
  await rm(rootfs, { recursive: true, force: true });
  const s = settingsOf(ctx);
  ctx.note(`mmdebstrap ${debianSuiteFor(s, ctx.layer.arch)} (${s.variant} + ${s.packages.length} packages)`);
  await runMmdebstrap({
    settings: s,
    sourceDateEpoch: (await ctx.sourceDateEpoch()).epoch,
    arch: ctx.layer.arch,
    targetDir: rootfs,
    logTo: ctx.log,
    signal: ctx.signal,
  });
}

/** Moves the tree to the prefix directory and relocates it (the flavor's "install"). */
async function relocate(ctx: StageContext): Promise<void> {
  const rootfs = rootfsOf(ctx);
  if (existsSync(rootfs)) {
    await rm(ctx.prefixDir, { recursive: true, force: true });
    await rename(rootfs, ctx.prefixDir);
  } else if (!existsSync(ctx.prefixDir)) {
    throw new InputError(
      `neither ${rootfs} nor ${ctx.prefixDir} exists: the bootstrap stage must run again`,
      {
        hint: "start a new build without --resume",
      },
    );
  }
  ctx.note("patching ELF objects, shebangs and symlinks");
  const report = await relocateTree({
    treeDir: ctx.prefixDir,
    prefix: ctx.layer.prefix,
    logTo: ctx.log,
    signal: ctx.signal,
  });
  for (const line of formatRelocationReport(report)) ctx.log.write(`${line}\n`);
  await writeRunReport(ctx, RELOCATION_REPORT, report);
  assertRelocated(report, join(ctx.runDir, RELOCATION_REPORT));
  ctx.note(
    `${report.elf.executables} executables, ${report.elf.libraries} libraries, ${report.shebangs.rewritten} shebangs, ${report.symlinks.rewritten} symlinks relocated`,
  );
}

/** The environment fixes (same-length string patches, perl, Lmod, ldd) and startprefix (relocation.md §6). */
async function configure(ctx: StageContext): Promise<void> {
  ctx.note("environment fixes and startprefix");
  const report = await configureDebianLayer({
    flavor: id,
    treeDir: ctx.prefixDir,
    prefix: ctx.layer.prefix,
    inLayer: ctx.inLayer,
    logTo: ctx.log,
  });
  await writeRunReport(ctx, CONFIGURE_REPORT, report);
}

/** The spec's locale.gen lines, compiled by the layer's localedef in directory form. */
async function locales(ctx: StageContext): Promise<void> {
  await applyPlannedFiles(
    prefixConfinement(ctx),
    planLayer(ctx.layer, planPart).files,
    (p) => p === "etc/locale.gen",
  );
  const r = await generateLocales({
    treeDir: ctx.prefixDir,
    prefix: ctx.layer.prefix,
    locales: ctx.layer.spec.locales,
    inLayer: ctx.inLayer,
    logTo: ctx.log,
  });
  await installLocaleLister(ctx.prefixDir, ctx.layer.prefix);
  ctx.note(`${r.generated.map((g) => g.name).join(", ") || "no locales"} in ${r.dir}`);
}

export async function debianInstalled(prefixDir: string): Promise<InstalledPackage[]> {
  const db = await readDpkgStatus(prefixDir);
  return db.packages.map((p) => ({ name: p.name, version: p.version, arch: p.architecture }));
}

export const api: Flavor = {
  plan() {
    return [
      stage("preflight", preflight),
      stage("bootstrap", bootstrap),
      stage("relocate", relocate),
      stage("configure", configure),
      stage("locales", locales),
      hostLinksStage(),
      checkStage(),
      finalizeStage(),
      recordStage(DEBIAN_STAGES.find((s) => s.id === "record")!, api, {
        packagesTxt: async (ctx) => formatPackageList((await readDpkgStatus(ctx.prefixDir)).packages),
        suiteOf: (layer) => (layer.spec.debian ? debianSuiteFor(layer.spec.debian, layer.arch) : undefined),
      }),
    ];
  },
  /**
   * A relocated layer has no package manager (README, known limits): an update is a rebuild from
   * the spec, whose sources include the suite's security and updates suites; what changed is found
   * by comparing the installed packages with the published layer's. Named packages are checked to
   * be Debian package names (apt's `name=version` too, as `compat watch` proposes them: the
   * version is not used); the rebuild installs what the suite has for every package.
   */
  update(layer, request) {
    const bad = (request.packages ?? []).filter((p) => !DEBIAN_REQUEST_RE.test(p));
    if (bad.length > 0)
      throw new InputError(
        `--packages: ${bad.map((b) => JSON.stringify(b)).join(", ")}: not a Debian package name`,
        {
          hint: "binary package names as dpkg lists them, e.g. libssl3,openssl (or apt's libssl3=3.0.15-1~deb12u1)",
        },
      );
    return api.plan(layer);
  },
  installed: (prefixDir) => debianInstalled(prefixDir),
  sourceDateEpoch,
  toolVersions: async () => ({
    mmdebstrap: await toolVersion("mmdebstrap"),
    patchelf: await toolVersion("patchelf"),
    bwrap: await toolVersion("bwrap"),
  }),
};
