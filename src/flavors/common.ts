/**
 * Stages both flavors share: the arch guard, the host links in their two phases and the build
 * record. They call src/layer; each flavor puts them where its order wants them.
 */

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { recordedBuildRoot } from "../buildroot/record.js";
import { InputError } from "../errors.js";
import { describeFileSystem, fileSystemOf, formatBytes } from "../exec/disk.js";
import { run } from "../exec/run.js";
import { hostFacts, type RunFacts, writeReprod } from "../layer/reprod.js";
import { makeHostLinks } from "../layer/symlinks.js";
import type { ResolvedLayer } from "../spec/resolve.js";
import { COMPAT_VERSION } from "../version.js";
import { prefixConfinement } from "./files.js";
import { CHECK_STAGE, FINALIZE_STAGE, HOST_LINKS_STAGE } from "./stage.js";
import type { BuildStage, Flavor, FlavorModule, StageContext } from "./types.js";

/** Ansible's human_to_bytes, which EESSI's disk check uses: K, M, G, T are powers of 1024. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(text.trim());
  if (!m) throw new InputError(`not a size: ${text} (expected e.g. 15 GB)`);
  const power = ["", "K", "M", "G", "T"].indexOf(m[2]!.toUpperCase());
  return Math.round(Number(m[1]) * 1024 ** power);
}

/**
 * The preflight's free-space check (EESSI's role checks it before bootstrapping): the file system
 * the layer is built on must have `required` (a spec size, named by `field`) free.
 */
export function requireFreeSpace(ctx: StageContext, required: string, field: string, what: string): void {
  const need = parseSize(required);
  const fs = fileSystemOf(ctx.workDir);
  if (!fs) throw new InputError(`cannot tell how much space is free at ${ctx.workDir}`);
  if (fs.available < need)
    throw new InputError(
      `not enough free space for ${what}: ${formatBytes(fs.available)} free at ${ctx.workDir}, the spec requires ${required} (${field})`,
      {
        details: [`file system ${describeFileSystem(fs)}`],
        hint: `free some space, use another --root, or lower ${field}`,
      },
    );
  ctx.note(`${formatBytes(fs.available)} free on ${fs.mountPoint} (${required} required)`);
}

export function hostLinksStage(): BuildStage {
  return {
    ...HOST_LINKS_STAGE,
    run: (ctx) => linkHostFiles(ctx, "plain"),
  };
}

export function finalizeStage(): BuildStage {
  return {
    ...FINALIZE_STAGE,
    run: (ctx) => linkHostFiles(ctx, "final"),
  };
}

async function linkHostFiles(ctx: StageContext, phase: "plain" | "final"): Promise<void> {
  const { layer } = ctx;
  if (phase === "final" && layer.hostLinks.every((l) => l.final === l.plain)) {
    ctx.note("the final host links are the plain ones: nothing to change");
    return;
  }
  const r = await makeHostLinks(
    { ...prefixConfinement(ctx), mountedAt: layer.prefix },
    layer.hostLinks,
    phase,
  );
  const inPrefix = (p: string) => p.slice(layer.prefix.length + 1);
  ctx.note(
    `${r.linked.length} ${phase} host link(s)${r.replaced.length > 0 ? `, replacing ${r.replaced.map(inPrefix).join(", ")}` : ""}`,
  );
}

/**
 * The check suite (src/checks) on the layer being built, through the sandbox and startprefix, as
 * EESSI runs its ReFrame tests before the final links and the build record. The report goes to
 * the run directory; a failed check fails the stage.
 */
export function checkStage(): BuildStage {
  return {
    ...CHECK_STAGE,
    run: async (ctx) => {
      const s = await ctx.checkLayer((r) => {
        ctx.log.write(`${r.status.padEnd(7)} ${r.id}: ${r.evidence.found} (${r.durationMs} ms)\n`);
        if (r.status === "fail") ctx.note(`${r.id} failed`);
      });
      ctx.note(`${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
    },
  };
}

export interface RecordExtras {
  suiteOf?: (layer: ResolvedLayer) => string | undefined;
  gentooCommitOf?: (layer: ResolvedLayer) => string | undefined;
  /** Extra files of the record, e.g. the bootstrap script. */
  files?: (ctx: StageContext) => Promise<Record<string, string | Buffer>>;
  /** packages.txt from the installed packages (default: `name-version` lines, sorted). */
  packagesTxt?: (ctx: StageContext) => Promise<string>;
  /** What else a rebuild needs to give the same layer (BuildRecord.inputs). */
  inputs?: (ctx: StageContext) => Promise<Record<string, unknown>>;
}

/** In the run directory: who built the layer, where and when (RunFacts; the layer's record has none). */
export const RUN_FACTS_FILE = "build-host.json";

export function recordStage(
  info: { id: string; description: string },
  flavor: Flavor,
  extras: RecordExtras = {},
): BuildStage {
  return {
    ...info,
    run: async (ctx) => {
      const packagesTxt = extras.packagesTxt
        ? await extras.packagesTxt(ctx)
        : (await flavor.installed(ctx.prefixDir, ctx.layer))
            .map((p) => `${p.name}-${p.version}\n`)
            .sort()
            .join("");
      const epoch = await ctx.sourceDateEpoch();
      const inputs = extras.inputs ? await extras.inputs(ctx) : undefined;
      const dir = await writeReprod(prefixConfinement(ctx, "the build record"), {
        packagesTxt,
        specText: ctx.specText,
        extra: extras.files ? await extras.files(ctx) : {},
        record: {
          stack: ctx.layer.stack,
          repository: ctx.layer.repository,
          version: ctx.layer.version,
          os: ctx.layer.os,
          flavor: ctx.layer.spec.flavor,
          arch: ctx.layer.arch,
          prefix: ctx.layer.prefix,
          specHash: ctx.specHash,
          ...(extras.suiteOf?.(ctx.layer) ? { suite: extras.suiteOf(ctx.layer) } : {}),
          ...(extras.gentooCommitOf?.(ctx.layer) ? { gentooCommit: extras.gentooCommitOf(ctx.layer) } : {}),
          sourceDateEpoch: epoch.epoch,
          ...(inputs ? { inputs } : {}),
          ...(ctx.buildRoot ? { buildRoot: recordedBuildRoot(ctx.buildRoot) } : {}),
          toolVersions: await flavor.toolVersions(ctx.buildRoot),
          compatVersion: COMPAT_VERSION,
        },
      });
      const facts: RunFacts = {
        runId: ctx.runId,
        ...(await hostFacts()),
        sourceDateEpochFrom: epoch.from,
        start: ctx.startedAt.toISOString(),
        end: new Date().toISOString(),
      };
      await writeFile(join(ctx.runDir, RUN_FACTS_FILE), `${JSON.stringify(facts, null, 2)}\n`);
      ctx.note(
        `build record in ${dir.slice(ctx.prefixDir.length + 1)} (${packagesTxt.split("\n").length - 1} packages)`,
      );
    },
  };
}

/** `tool --version`'s first line, or "missing". */
export async function toolVersion(cmd: string, args: readonly string[] = ["--version"]): Promise<string> {
  try {
    const r = await run(cmd, args, { timeoutMs: 10_000 });
    return (
      (r.stdout || r.stderr)
        .split("\n")
        .find((l) => l.trim())
        ?.trim() ?? "unknown"
    );
  } catch {
    return "missing";
  }
}

/** Refused before anything is written when the flavor builds as root only and this is another user. */
export function assertBuildUser(
  flavor: Pick<FlavorModule, "id" | "rootOnly">,
  uid: number | undefined = process.getuid?.(),
): void {
  if (!flavor.rootOnly || uid === 0 || uid === undefined) return;
  throw new InputError(`the ${flavor.id} flavor builds as root (as another user it is not supported yet)`, {
    details: [flavor.rootOnly],
    hint: "run compat build as root (for example with sudo)",
  });
}
