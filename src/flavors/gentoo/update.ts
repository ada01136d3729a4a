/**
 * The gentoo flavor's update mode (DESIGN.md "Update builds"), as EESSI's `build_type: update`
 * does it since 2026 over a union mount of the live layer: the published layer, unpacked from its
 * verified artifact, is the read-only lower layer of an overlay mounted at the prefix; the build's
 * stages run on the merged view as they do in a build, without the bootstrap (repos at the spec's
 * pinned commit, Portage files, overlays), then `emerge --oneshot --update ATOMS` (or `emerge
 * --update --deep --newuse @world` for a routine update), the removals and locales, the check
 * suite, the final host links and a new build record. The merged view is then copied out as the
 * candidate's tree and the overlay unmounted. Every stage first makes sure the overlay is mounted
 * (it lives on the host and outlives a killed run; after a reboot it is mounted again), so a
 * resumed run never writes into the bare mount point.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../../errors.js";
import { assertArchRunnable, describeEmulation } from "../../exec/emulation.js";
import { isMountPoint, mountOverlay, type OverlayDirs, unmountOverlay } from "../../exec/overlay.js";
import { requireTool, run } from "../../exec/run.js";
import { ensureSandbox } from "../../exec/sandbox.js";
import { parseAtom } from "../../gentoo/atom.js";
import { requireFreeSpace } from "../common.js";
import type { BuildStage, FlavorUpdateRequest, StageContext } from "../types.js";
import { asBuildUser } from "./build-user.js";

/** Stages of the build reused by the update, in this order around the update's own. */
const BEFORE = ["repos", "configure", "host-links", "overlays"] as const;
const AFTER = ["remove", "locales", "check", "finalize", "record"] as const;

export const GENTOO_UPDATE_STAGES = [
  {
    id: "preflight",
    description: "check the arch, root (the overlay is mounted), the tools and the free space",
  },
  {
    id: "base",
    description: "unpack the published layer's artifact (verified) as the overlay's read-only lower layer",
  },
  { id: "overlay", description: "mount a writable overlay over the published layer at the prefix" },
  { id: "repos", description: "the Gentoo tree at the spec's pinned commit (as in a build)" },
  { id: "configure", description: "the Portage configuration files (as in a build)" },
  { id: "host-links", description: "plain host links while Portage runs (as in a build)" },
  {
    id: "overlays",
    description: "the overlays at their commits, sets and linked Portage files (as in a build)",
  },
  {
    id: "update",
    description:
      "emerge --oneshot --update of the atoms the update is for, or --update --deep --newuse @world",
  },
  { id: "remove", description: "unmerge the build-only packages (as in a build)" },
  { id: "locales", description: "locale.gen and locale-gen (as in a build)" },
  { id: "check", description: "the check suite on the updated layer" },
  { id: "finalize", description: "the final host links" },
  { id: "record", description: "a new build record: qlist -IRv, build.json" },
  {
    id: "materialize",
    description: "copy the overlay's merged view out as the candidate's tree, unmount the overlay",
  },
] as const;

/** The emerge arguments of the update: the atoms checked by Portage's rules, or a routine world update. */
export function emergeUpdateArgs(packages: readonly string[] | undefined): string[] {
  if (packages === undefined || packages.length === 0)
    return ["--update", "--deep", "--newuse", "--verbose", "@world"];
  for (const p of packages) {
    let problem: string | undefined;
    try {
      if (parseAtom(p).blocker) problem = "a blocker is not something to install";
    } catch (e) {
      problem = (e as Error).message;
    }
    // emerge reads an argument starting with '-' as an option: an atom never does (parseAtom agrees)
    if (problem !== undefined)
      throw new InputError(`--packages: ${JSON.stringify(p)} is not a Portage atom to update`, {
        details: [problem],
        hint: "e.g. dev-libs/openssl, >=dev-libs/openssl-3.0.13, sys-libs/zlib:0",
      });
  }
  return ["--oneshot", "--update", "--verbose", ...packages];
}

const describe = (id: (typeof GENTOO_UPDATE_STAGES)[number]["id"]) =>
  GENTOO_UPDATE_STAGES.find((s) => s.id === id)!.description;

function overlayDirs(ctx: StageContext): OverlayDirs & { base: string; result: string; done: string } {
  return {
    base: join(ctx.workDir, "base"),
    lower: "", // set once the base is unpacked (its layer dir)
    upper: join(ctx.workDir, "upper"),
    work: join(ctx.workDir, "overlay-work"),
    merged: ctx.prefixDir,
    result: join(ctx.workDir, "result"),
    done: join(ctx.workDir, "materialized"),
  };
}

/**
 * The stages of a gentoo update. `buildStages` are the build's own (plan order), whose repos,
 * configure, host-links, overlays, remove, locales, check, finalize and record stages run again on
 * the merged view.
 */
export function gentooUpdatePlan(
  request: FlavorUpdateRequest,
  buildStages: readonly BuildStage[],
): BuildStage[] {
  const base = request.base;
  if (!base)
    throw new InputError(
      "a gentoo update emerges over the published layer, and nothing is published on the target yet",
      {
        hint: "build the layer (compat build), pack it and publish it to the target first (compat publish ARTIFACT --to TARGET)",
      },
    );
  const emergeArgs = emergeUpdateArgs(request.packages);
  const reused = (id: string): BuildStage => {
    const s = buildStages.find((b) => b.id === id);
    if (!s) throw new Error(`the gentoo build has no stage ${id}`);
    return s;
  };
  let lowerLayer: string | undefined;
  const lower = async (ctx: StageContext) => {
    lowerLayer ??= await base.unpack(overlayDirs(ctx).base, ctx.signal);
    return lowerLayer;
  };
  const ensureOverlay = async (ctx: StageContext) => {
    const d = overlayDirs(ctx);
    if (existsSync(d.done)) return;
    await mountOverlay({ ...d, lower: await lower(ctx) }, ctx.signal);
  };
  const onOverlay = (s: BuildStage, description = s.description): BuildStage => ({
    id: s.id,
    description,
    run: async (ctx) => {
      await ensureOverlay(ctx);
      await s.run(ctx);
    },
  });
  const stage = (
    id: (typeof GENTOO_UPDATE_STAGES)[number]["id"],
    run: (ctx: StageContext) => Promise<void>,
  ): BuildStage => ({ id, description: describe(id), run });

  return [
    stage("preflight", async (ctx) => {
      ctx.note(`${ctx.layer.arch} programs run ${describeEmulation(assertArchRunnable(ctx.layer.arch))}`);
      if (process.getuid?.() !== 0)
        throw new InputError("a gentoo update mounts an overlay over the published layer: it runs as root", {
          hint: "run compat update as root (for example with sudo)",
        });
      for (const t of ["git", "mount", "umount", "cp"]) await requireTool(t);
      await ensureSandbox();
      requireFreeSpace(
        ctx,
        ctx.layer.spec.gentoo!.bootstrap.requiredSpace,
        "gentoo.bootstrap.requiredSpace",
        "an update of a Gentoo Prefix",
      );
      ctx.note(`emerge ${emergeArgs.join(" ")}`);
    }),
    stage("base", async (ctx) => {
      // unpacking is atomic (the local publisher's swap) and a no-op when the base is there already
      const dir = await lower(ctx);
      ctx.note(`published layer ${base.sha256.slice(0, 16)}… unpacked in ${dir}`);
    }),
    stage("overlay", async (ctx) => {
      await ensureOverlay(ctx);
      ctx.note(`overlay mounted at ${ctx.prefixDir}`);
    }),
    ...BEFORE.map((id) => onOverlay(reused(id), describe(id))),
    onOverlay(
      stage("update", async (ctx) => {
        ctx.note(`emerge ${emergeArgs.join(" ")}`);
        await ctx.inLayer(["emerge", ...emergeArgs], await asBuildUser(ctx));
      }),
    ),
    ...AFTER.map((id) => onOverlay(reused(id), describe(id))),
    stage("materialize", async (ctx) => {
      const d = overlayDirs(ctx);
      if (existsSync(d.done)) return;
      if (!existsSync(d.result) || isMountPoint(d.merged)) {
        await ensureOverlay(ctx);
        await rm(d.result, { recursive: true, force: true });
        await mkdir(d.result);
        ctx.note("copying the merged view out");
        await run("cp", ["-a", "--reflink=auto", "--", `${d.merged}/.`, `${d.result}/`], {
          logTo: ctx.log,
          signal: ctx.signal,
        });
        await unmountOverlay(d.merged);
      }
      // the bare mount point: empty, or the rename below already happened (then `done` exists)
      await rmdir(d.merged);
      await rename(d.result, d.merged);
      await writeFile(d.done, `${new Date().toISOString()}\n`);
      for (const x of [d.upper, d.work, d.base]) await rm(x, { recursive: true, force: true });
      ctx.note("the updated layer is the candidate's tree");
    }),
  ];
}
