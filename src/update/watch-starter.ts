/**
 * `compat watch`'s auto-update policy `build` (issue 14): for the packages a watch proposes, the
 * update loop builds a candidate as `compat update LAYER --arch A --from TARGET --packages …` would,
 * and its gates run; nobody approves anything here. An update of the same layer already running
 * refuses at once (the watch reports it and tries again on its next run).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValidationError } from "../errors.js";
import { formatExecutor, parseExecutor } from "../exec/executor.js";
import { jobPlaceOf } from "../exec/job.js";
import { log } from "../log.js";
import type { ProgressReporter } from "../pipeline/progress.js";
import { updateOnExecutor } from "../pipeline/remote-build.js";
import type { SiteConfig } from "../site/load.js";
import { CANDIDATE_STATES } from "../store/candidate-states.js";
import type { Store } from "../store/store.js";
import { withoutControls } from "../text.js";
import type { UpdateRequest, UpdateStarter } from "../watch/policy.js";
import { buildHostConfig } from "./build-host.js";
import { runUpdate } from "./update.js";

const oneLine = (s: string) => withoutControls(s, () => "?");

/**
 * The arch's executor in the site config (`executors:`), when it is not this host: the update runs
 * there as `compat update … --on local` with the build host's site config, as `compat update` does.
 */
async function onConfiguredExecutor(
  site: SiteConfig,
  request: UpdateRequest,
  signal: AbortSignal | undefined,
): Promise<Awaited<ReturnType<UpdateStarter>> | undefined> {
  const configured = site.executors[request.arch];
  if (!configured) return undefined;
  const executor = parseExecutor(configured.on, `executors.${request.arch}`);
  if (executor.kind === "local") return undefined;
  const config = buildHostConfig(executor, site, {
    configured,
    where: `executors.${request.arch}`,
    hint: `add config: /path/on/the/build/host/compat.yaml to executors.${request.arch}`,
  });
  const place = jobPlaceOf(executor, { ...configured, compatField: "executors: compat" }, site.stateDir);
  const args = ["--arch", request.arch, "--from", request.target, "--packages", request.packages.join(",")];
  args.push("--reason", request.reason);
  args.push("--on", "local");
  const outDir = await mkdtemp(join(tmpdir(), "compat-watch-update-"));
  try {
    const r = await updateOnExecutor({
      layer: request.layer,
      args,
      config,
      place,
      outDir,
      signal,
      onLine: (line) => log.debug(`${formatExecutor(executor)}: ${oneLine(line)}`),
    });
    return policyBuildOutcome(r.result, r.where);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/**
 * What a build host's `compat update --json` result says, checked: the build host is not trusted,
 * so the candidate is a positive id and its state one of a candidate's (it goes into the watch report).
 */
export function policyBuildOutcome(value: unknown, where: string): Awaited<ReturnType<UpdateStarter>> {
  const result = (typeof value === "object" && value !== null ? value : {}) as {
    unchanged?: unknown;
    message?: unknown;
    candidate?: { id?: unknown; state?: unknown };
  };
  if (result.unchanged === true) {
    log.info(`policy build on ${where}: ${oneLine(String(result.message ?? "").slice(0, 500))}`);
    return { candidate: null };
  }
  const id = result.candidate?.id;
  const state = result.candidate?.state;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0)
    throw new ValidationError(`the update result from ${where} names no candidate`);
  if (typeof state !== "string" || !(CANDIDATE_STATES as readonly string[]).includes(state))
    throw new ValidationError(
      `the update result from ${where} gives candidate ${id} the state ${oneLine(JSON.stringify(state ?? null).slice(0, 80))}, which is not a candidate's`,
    );
  log.info(`policy build on ${where}: candidate ${id} is ${state}`);
  return { candidate: id, state };
}

/** Build progress goes to the log at debug level: a watch's output is its report. */
const quietProgress: ProgressReporter = {
  emit: (e) => log.debug(`update: ${e.event}${"stage" in e ? ` ${e.stage}` : ""}`),
  close: () => {},
};

export function updateStarter(site: SiteConfig, store: Store, signal?: AbortSignal): UpdateStarter {
  return async (request) => {
    log.info(
      `policy build: compat update ${request.layer} --arch ${request.arch} --from ${request.target} --packages ${request.packages.join(",")}`,
    );
    const remote = await onConfiguredExecutor(site, request, signal);
    if (remote) return remote;
    const r = await runUpdate(site, store, {
      layer: request.layer,
      arch: request.arch,
      from: request.target,
      packages: request.packages,
      reason: request.reason,
      signal,
      reporter: quietProgress,
      onStep: (m) => log.debug(m),
    });
    if (r.unchanged) {
      log.info(`policy build: ${r.message}`);
      return { candidate: null };
    }
    log.info(`policy build: candidate ${r.candidate.id} is ${r.candidate.state}`);
    return { candidate: r.candidate.id, state: r.candidate.state };
  };
}
