/**
 * What the update loop tells people about: a candidate ready for approval, a gate that failed, a
 * publication. They go through the site's notification channels (`notifications:` in compat.yaml,
 * src/watch/notify/: Slack, Mattermost, signed webhooks, with the store's outbox retrying what a
 * channel did not take). Every place the loop reaches such a moment calls `emitUpdateEvent`.
 */
import { log } from "../log.js";
import type { SiteConfig } from "../site/load.js";
import type { Store } from "../store/store.js";
import type { WatchEvent } from "../watch/notify/events.js";

export type UpdateEvent = Extract<WatchEvent, { event: "candidate-ready" | "gate-failed" | "publication" }>;

/** Tell people about `event`. Never throws: a notification that fails does not stop the loop. */
export async function emitUpdateEvent(site: SiteConfig, store: Store, event: UpdateEvent): Promise<void> {
  log.debug(`event ${event.event}: ${event.target}/${event.layer}/${event.arch}`);
  if (Object.keys(site.notifications.channels).length === 0) return;
  try {
    const { notifyEvent } = await import("../watch/notify/index.js");
    await notifyEvent(store, site.notifications, event);
  } catch (e) {
    log.warn(
      `notifying ${event.event} of ${event.target}/${event.layer}/${event.arch}: ${(e as Error).message}`,
    );
  }
}
