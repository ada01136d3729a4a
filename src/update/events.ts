/**
 * What the update loop tells people about: a candidate ready for approval, a gate that failed, a
 * publication. The shapes are those of the notification events of `src/watch/notify/events.ts`
 * (issue 14), which sends them through the site's channels; until that module is wired in,
 * `updateEvents` only logs them. Every place the loop reaches such a moment calls `emitUpdateEvent`
 * and nothing else, so the notifier is plugged in here, once.
 */
import { log } from "../log.js";
import type { SiteConfig } from "../site/load.js";
import type { Store } from "../store/store.js";

interface LayerRef {
  target: string;
  /** The site config's layer name. */
  layer: string;
  arch: string;
}

export type UpdateEvent =
  | (LayerRef & {
      event: "candidate-ready";
      candidate: number;
      sha256: string;
      gates: string[];
      packageDiff?: string;
    })
  | (LayerRef & { event: "gate-failed"; candidate: number; gate: string; reason: string })
  | (LayerRef & {
      event: "publication";
      publication: number;
      sha256: string | null;
      kind: "full" | "delta" | null;
      by: string;
      action: "publish" | "rollback";
    });

/** Tell people about `event`. Never throws: a notification that fails does not stop the loop. */
export async function emitUpdateEvent(site: SiteConfig, store: Store, event: UpdateEvent): Promise<void> {
  void site;
  void store;
  log.debug(`event ${event.event}: ${event.target}/${event.layer}/${event.arch}`);
}
