/**
 * The gentoo flavor: Gentoo Prefix bootstrapped at the prefix path, in the order of EESSI's role
 * (reference/compat-layer.md §2.4–2.5). Every stage runs the real tools (git, bootstrap-prefix.sh,
 * emerge, equery, locale-gen, qlist) inside the sandbox with the layer at its prefix path.
 *
 * Gentoo's bootstrap refuses to run as root: run as root, the sandbox runs the Portage steps as
 * uid 1001 ("portage", the user of EESSI's build container) in a user namespace, so what they write
 * is still owned by the caller outside.
 */
import { existsSync } from "node:fs";
import { chmod, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { BuildRoot } from "../../buildroot/types.js";
import { InputError, ToolError } from "../../errors.js";
import { assertArchRunnable, describeEmulation } from "../../exec/emulation.js";
import { requireTool } from "../../exec/run.js";
import { ensureSandbox } from "../../exec/sandbox.js";
import { renderEclassOverridesConf, renderOverlayReposConf } from "../../gentoo/config/repos-conf.js";
import { readVardb, VDB_PATH } from "../../gentoo/vardb.js";
import { resolveSourceDateEpoch, type SourceDateEpoch } from "../../layer/source-date-epoch.js";
import { mkdirInside, removeInside, resolveInside, writeFileInside } from "../../paths/inside.js";
import { safeName } from "../../paths/rules.js";
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
import { fetchBootstrapScript } from "./bootstrap-script.js";
import { asBuildUser } from "./build-user.js";
import { checkoutPinned, committerTime } from "./git.js";
import { planPart } from "./plan-part.js";
import { linkPortageConfig } from "./portage-links.js";
import { provideSets, USER_SETS_DIR } from "./sets.js";
import { GENTOO_STAGES, type GentooStageId } from "./stages.js";
import { gentooUpdatePlan } from "./update.js";

export { asBuildUser, BUILD_UID, portageEnvironment } from "./build-user.js";

export const id = "gentoo" as const;
export const displayName = "Gentoo Prefix";
export * as ansibleRole from "./ansible.js";
export { defaultBuildRoot } from "./build-root.js";
/** Its bootstrap compiles with whatever toolchain it starts on: always the build root's. */
export const buildRootByDefault = true;
/** Whether a prefix directory holds a layer of this flavor. */
export { archDiff } from "./arch-diff.js";
export { checkDefaults } from "./check-defaults.js";
export { detect } from "./detect.js";
export { advisorySources, capabilities, packageDatabase, sbomDistro } from "./facts.js";
export { packageReader } from "./package-database.js";
export { planPart } from "./plan-part.js";

export const urls = [
  "https://wiki.gentoo.org/wiki/Project:Prefix",
  "https://github.com/EESSI/compatibility-layer",
];

/**
 * Programs the bootstrap needs from the machine it starts on (it compiles its stage 1 with that
 * toolchain): the build root's, or with --no-build-root the host's.
 */
export const HOST_TOOLS = ["git", "gcc", "g++", "make", "perl", "patch"];

const workFile = (ctx: StageContext, name: string) => join(ctx.workDir, name);
const SCRIPT = "bootstrap-prefix.sh";

async function emerge(ctx: StageContext, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  ctx.note(`emerge ${args.join(" ")}`);
  await ctx.inLayer(["emerge", ...args], await asBuildUser(ctx, env));
}

/** The bootstrap command line, as EESSI's prefix_install: `<script> <EPREFIX> noninteractive`. */
export function bootstrapCommand(script: string, prefix: string): string[] {
  return ["/bin/bash", script, prefix, "noninteractive"];
}

const stage = (sid: GentooStageId, run: (ctx: StageContext) => Promise<void>): BuildStage => {
  const info = GENTOO_STAGES.find((s) => s.id === sid)!;
  return { id: info.id, description: info.description, run };
};

async function preflight(ctx: StageContext): Promise<void> {
  ctx.note(`${ctx.layer.arch} programs run ${describeEmulation(assertArchRunnable(ctx.layer.arch))}`);
  await ensureSandbox();
  if (ctx.buildRoot) await requireBuildRootTools(ctx, ctx.buildRoot);
  else for (const t of HOST_TOOLS) await requireTool(t);
  requireFreeSpace(
    ctx,
    ctx.layer.spec.gentoo!.bootstrap.requiredSpace,
    "gentoo.bootstrap.requiredSpace",
    "a Gentoo Prefix bootstrap",
  );
}

/** The build root has the programs the bootstrap starts with (a spec's buildRoot.packages may lack one). */
async function requireBuildRootTools(ctx: StageContext, root: BuildRoot): Promise<void> {
  const probe = HOST_TOOLS.map((t) => `command -v ${t} >/dev/null || echo ${t}`).join("; ");
  const r = await ctx.buildTool("/bin/sh", ["-c", probe], { network: false });
  const missing = r.stdout.split("\n").filter(Boolean);
  if (missing.length > 0)
    throw new InputError(
      `the build root ${root.identity.slice(0, 12)} (${root.suite}, ${root.arch}) has no ${missing.join(", ")}: the Gentoo bootstrap needs ${HOST_TOOLS.join(", ")}`,
      {
        hint: "add the Debian packages that provide them to buildRoot.packages in the spec (e.g. gcc, g++, make, git)",
      },
    );
  ctx.note(
    `build root ${root.identity.slice(0, 12)} (${root.suite}, ${root.packages.length} packages) has ${HOST_TOOLS.join(", ")}`,
  );
}

async function repos(ctx: StageContext): Promise<void> {
  const repo = ctx.layer.spec.gentoo!.repository;
  const inPrefix = prefixConfinement(ctx);
  await applyPlannedFiles(
    inPrefix,
    planLayer(ctx.layer, planPart).files,
    (p) => p === "etc/portage/repos.conf/gentoo.conf",
  );
  const dir = resolveInside(inPrefix, "var/db/repos/gentoo", { followLast: false });
  const head = await checkoutPinned(
    ctx,
    { url: repo.url, branch: repo.branch, commit: repo.commit, dir },
    "gentoo.repository.url",
  );
  // Tells bootstrap-prefix.sh's do_tree() not to unpack a snapshot over the pinned checkout.
  await writeFileInside(inPrefix, "var/db/repos/gentoo/.unpacked", "");
  ctx.note(`Gentoo tree at ${head}`);
}

/** Portage files written before the bootstrap: all but repos.conf (repos, overlays) and locale.gen (locales). */
export function isPortageConfigFile(path: string): boolean {
  return path.startsWith("etc/portage/") && !path.startsWith("etc/portage/repos.conf/");
}

async function configure(ctx: StageContext): Promise<void> {
  const inPrefix = prefixConfinement(ctx);
  for (const d of ["etc/portage/make.conf", "etc/portage/profile"]) await mkdirInside(inPrefix, d);
  const written = await applyPlannedFiles(
    inPrefix,
    planLayer(ctx.layer, planPart).files,
    isPortageConfigFile,
  );
  ctx.note(`${written.length} Portage configuration file(s)`);
}

async function bootstrap(ctx: StageContext): Promise<void> {
  const { layer } = ctx;
  if (existsSync(join(ctx.prefixDir, "startprefix"))) {
    ctx.note("the prefix has a startprefix: bootstrap done");
    return;
  }
  const gentoo = layer.spec.gentoo!;
  const script = await fetchBootstrapScript(gentoo.bootstrap.script, dirname(ctx.specFile));
  const scriptPath = workFile(ctx, SCRIPT);
  await writeFile(scriptPath, script.content);
  await writeFile(`${scriptPath}.sha256`, `${script.sha256}  ${SCRIPT}\n`);
  await chmod(scriptPath, 0o755);
  ctx.note(`${SCRIPT} from ${script.origin} (sha256 ${script.sha256.slice(0, 16)}…)`);
  const env: NodeJS.ProcessEnv = {};
  if (gentoo.bootstrap.useFlags.length > 0)
    env.MAKE_CONF_ADDITIONAL_USE = gentoo.bootstrap.useFlags.join(" ");
  const onStdout = (c: Buffer) => {
    for (const line of c.toString("utf8").split("\n"))
      if (line.startsWith(">>> Installing") || line.startsWith("* ")) ctx.note(line.trim());
  };
  // Run 1 stops after stage 3; run 2 skips stages 1-3 through their .stageN-finished markers.
  for (const stop of ["stage3", undefined]) {
    const opts = await asBuildUser(ctx, stop ? { ...env, STOP_BOOTSTRAP_AFTER: stop } : env);
    await ctx.inLayer(bootstrapCommand(scriptPath, layer.prefix), {
      ...opts,
      onStdout,
      captureStdout: false,
    });
  }
  const varTmp = resolveInside(prefixConfinement(ctx), "var/tmp");
  for (const e of existsSync(varTmp) ? await readdir(varTmp) : [])
    await rm(join(varTmp, e), { recursive: true, force: true });
  if (!existsSync(join(ctx.prefixDir, "startprefix")))
    throw new ToolError(
      `${SCRIPT} finished but ${layer.prefix}/startprefix is missing`,
      {
        command: bootstrapCommand(scriptPath, layer.prefix).join(" "),
        exitStatus: 0,
      },
      { hint: `see ${layer.prefix}/stage{1,2,3}.log in the build directory` },
    );
}

async function overlays(ctx: StageContext): Promise<void> {
  const { layer } = ctx;
  const gentoo = layer.spec.gentoo!;
  // EESSI's add_overlay.yml: gentoolkit (equery, used by the checks) and git first.
  await emerge(ctx, ["--noreplace", "--verbose", "app-portage/gentoolkit", "dev-vcs/git"]);
  const inPrefix = prefixConfinement(ctx);
  const reposConf = "etc/portage/repos.conf";
  for (const o of gentoo.overlays) {
    const name = safeName(o.name, "gentoo.overlays[].name");
    await writeFileInside(inPrefix, `${reposConf}/${name}.conf`, renderOverlayReposConf(o, layer.prefix));
    if (o.syncType === "git")
      await checkoutPinned(
        ctx,
        {
          url: o.url,
          branch: o.branch,
          commit: o.commit,
          dir: resolveInside(inPrefix, `var/db/repos/${name}`, { followLast: false }),
        },
        `gentoo.overlays[${name}].url`,
      );
  }
  const eclass = renderEclassOverridesConf(gentoo.overlays);
  if (eclass) await writeFileInside(inPrefix, `${reposConf}/eclass-overrides.conf`, eclass);
  else await removeInside(inPrefix, `${reposConf}/eclass-overrides.conf`);
  // Only repositories with auto-sync (non-git overlays, or git ones that ask for it) change here.
  const autoSync = gentoo.overlays.filter((o) => o.autoSync ?? o.syncType !== "git").map((o) => o.name);
  if (autoSync.length > 0) await emerge(ctx, ["--sync", ...autoSync]);
  // The overlay's own Portage configuration the spec asks for (EESSI's role before 2026.06).
  for (const l of await linkPortageConfig(inPrefix, layer)) ctx.note(`linked ${l.path} -> ${l.target}`);
  // The sets the install stage emerges: in etc/portage/sets/, or an overlay's linked there.
  for (const p of await provideSets(inPrefix, layer))
    ctx.note(
      p.how === "linked"
        ? `${p.set}: linked ${USER_SETS_DIR}/${p.set.slice(1)} -> ${p.source}`
        : `${p.set}: ${p.how === "portage" ? "Portage's own set" : `from ${p.source}`}`,
    );
}

async function trustedDirs(ctx: StageContext): Promise<void> {
  const dirs = ctx.layer.trustedDirs;
  if (dirs.length === 0) {
    ctx.note("no glibc trusted dirs in the spec");
    return;
  }
  const want = `user-defined-trusted-dirs=${dirs.join(":")}`;
  const opts = await asBuildUser(ctx);
  const r = await ctx.inLayer(["equery", "has", "--package", "sys-libs/glibc", "EXTRA_EMAKE"], {
    ...opts,
    okStatuses: [0, 1, 3],
  });
  if (r.stdout.trim() === want) {
    ctx.note(`glibc already built with ${want}`);
    return;
  }
  // The env file and its package.env line (configure stage) keep the setting on later rebuilds.
  await emerge(ctx, ["--oneshot", "--verbose", "sys-libs/glibc"], { EXTRA_EMAKE: want });
}

async function install(ctx: StageContext): Promise<void> {
  for (const set of ctx.layer.sets) await emerge(ctx, ["--noreplace", "--verbose", `@${set}`]);
  for (const atom of ctx.layer.packageAtoms) await emerge(ctx, ["--noreplace", "--verbose", atom]);
}

async function remove(ctx: StageContext): Promise<void> {
  const installed = new Set((await gentooInstalled(ctx.prefixDir)).map((p) => p.name));
  for (const name of ctx.layer.spec.gentoo!.removePackages) {
    if (!installed.has(name)) {
      ctx.note(`${name} is not installed`);
      continue;
    }
    await emerge(ctx, ["--unmerge", "--quiet", name]);
  }
}

async function locales(ctx: StageContext): Promise<void> {
  await applyPlannedFiles(
    prefixConfinement(ctx),
    planLayer(ctx.layer, planPart).files,
    (p) => p === "etc/locale.gen",
  );
  await ctx.inLayer(["locale-gen"], await asBuildUser(ctx));
}

/** The installed packages, from the layer's vardb (`var/db/pkg`). */
export async function gentooInstalled(prefixDir: string): Promise<InstalledPackage[]> {
  if (!existsSync(join(prefixDir, VDB_PATH))) return [];
  return readVardb(prefixDir, { fields: ["SLOT"] })
    .packages.map((p) => ({ name: p.cp, version: p.version, slot: p.slot }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * gentoo.sourceDateEpoch, else the committer date of the pinned gentoo.git commit (checked out by
 * the repos stage): the newest ebuild the layer can be built from is no newer than it. Without
 * the checkout (an update over a snapshot tree) the build's start, and the run's record says so.
 */
async function sourceDateEpoch(ctx: StageContext): Promise<SourceDateEpoch> {
  const gentoo = ctx.layer.spec.gentoo!;
  return resolveSourceDateEpoch({
    spec: gentoo.sourceDateEpoch,
    specField: "gentoo.sourceDateEpoch",
    derive: async () => {
      // the checkout is the layer's: its .git may have been written by the sandbox (see committerTime)
      const dir = resolveInside(prefixConfinement(ctx), "var/db/repos/gentoo", { followLast: false });
      const epoch = (await committerTime(ctx, dir, gentoo.repository.commit)) ?? Number.NaN;
      // an update over a layer whose tree is a snapshot (no .git), or a stage run on its own: the
      // build's start, said so in the run's record (not reproducible; the spec's field makes it so)
      if (!Number.isSafeInteger(epoch))
        return {
          epoch: Math.floor(ctx.startedAt.getTime() / 1000),
          from: `the build's start (gentoo.git ${gentoo.repository.commit.slice(0, 12)} is not checked out in the prefix; set gentoo.sourceDateEpoch for a reproducible build)`,
        };
      return { epoch, from: `the committer date of gentoo.git ${gentoo.repository.commit.slice(0, 12)}` };
    },
  });
}

/**
 * What else a rebuild needs to give the same layer, for the build record (BuildRecord.inputs): the
 * pinned overlays, the bootstrap script's sha256, and the binary-package host and distfiles
 * mirrors the spec's make.conf names (Portage fetches from them; without a pinned binhost a
 * rebuild compiles, and compiler output is only the same when every package builds reproducibly).
 */
async function reproducibilityInputs(ctx: StageContext): Promise<Record<string, unknown>> {
  const gentoo = ctx.layer.spec.gentoo!;
  const script = workFile(ctx, `${SCRIPT}.sha256`);
  const makeConf = Object.entries(gentoo.makeConf)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, text]) => text)
    .join("\n");
  const setting = (name: string) =>
    [...makeConf.matchAll(new RegExp(`^\\s*${name}\\s*=\\s*"?([^"\\n]*)"?`, "gm"))]
      .map((m) => m[1]!.trim())
      .at(-1) ?? null;
  return {
    gentooRepository: { url: gentoo.repository.url, commit: gentoo.repository.commit },
    overlays: gentoo.overlays.map((o) => ({ name: o.name, url: o.url, commit: o.commit ?? null })),
    bootstrapScript: {
      origin: "url" in gentoo.bootstrap.script ? gentoo.bootstrap.script.url : gentoo.bootstrap.script.path,
      sha256: existsSync(script) ? (await readFile(script, "utf8")).split(/\s+/)[0] : null,
    },
    binhost: setting("PORTAGE_BINHOST"),
    distfilesMirrors: setting("GENTOO_MIRRORS"),
  };
}

export const api: Flavor = {
  plan(layer) {
    void layer;
    return [
      stage("preflight", preflight),
      stage("repos", repos),
      stage("configure", configure),
      stage("bootstrap", bootstrap),
      hostLinksStage(),
      stage("overlays", overlays),
      stage("trusted-dirs", trustedDirs),
      stage("install", install),
      stage("remove", remove),
      stage("locales", locales),
      checkStage(),
      finalizeStage(),
      recordStage(GENTOO_STAGES.find((s) => s.id === "record")!, api, {
        packagesTxt: async (ctx) => (await ctx.inLayer(["qlist", "-IRv"], await asBuildUser(ctx))).stdout,
        files: async (ctx): Promise<Record<string, Buffer>> => {
          const script = workFile(ctx, SCRIPT);
          if (!existsSync(script)) return {};
          return {
            [SCRIPT]: await readFile(script),
            [`${SCRIPT}.sha256`]: await readFile(`${script}.sha256`),
          };
        },
        gentooCommitOf: (layer) => layer.spec.gentoo?.repository.commit,
        inputs: reproducibilityInputs,
      }),
    ];
  },
  update: (layer, request) => gentooUpdatePlan(request, api.plan(layer)),
  sourceDateEpoch,
  installed: (prefixDir) => gentooInstalled(prefixDir),
  toolVersions: async (buildRoot) => ({
    bwrap: await toolVersion("bwrap"),
    ...(buildRoot ? {} : { git: await toolVersion("git"), gcc: await toolVersion("gcc") }),
  }),
};
