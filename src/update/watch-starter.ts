/**
 * `compat watch`'s auto-update policy `build` (issue 14): for the packages a watch proposes, the
 * update loop builds a candidate as `compat update LAYER --arch A --from TARGET --packages …` would,
 * and its gates run; nobody approves anything here. An update of the same layer already running
 * refuses at once (the watch reports it and tries again on its next run).
 */
import { log } from "../log.js";
import type { ProgressReporter } from "../pipeline/progress.js";
import type { SiteConfig } from "../site/load.js";
import type { Store } from "../store/store.js";
import type { UpdateStarter } from "../watch/policy.js";
import { runUpdate } from "./update.js";

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
