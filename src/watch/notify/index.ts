/**
 * Notifications: `notify` queues an event for every channel that takes it (in the store's outbox),
 * `deliver` sends what is queued (this run's and earlier runs' that a channel did not take) and
 * records each outcome. Neither throws for a channel's failure: a watch or a publish goes on, and
 * the log and the store say what was not delivered. Issue 13's update loop calls `notifyEvent`
 * for candidate-ready, gate-failed and publication.
 */
import { InputError, isCompatError } from "../../errors.js";
import { log } from "../../log.js";
import { severityRank } from "../../security/advisory.js";
import type { SiteChannel, SiteNotifications } from "../../site/load.js";
import type { JsonValue } from "../../store/json.js";
import {
  pendingNotifications,
  type QueuedNotification,
  queueNotification,
  recordAttempt,
} from "../../store/notifications.js";
import { isoNow, type Store } from "../../store/store.js";
import { subjectOf, type WatchEvent } from "./events.js";
import { mattermostMessage, slackMessage, webhookBody } from "./format.js";
import { resolveSecret } from "./secrets.js";
import { postJson, SIGNATURE_HEADER, signBody } from "./send.js";

export type { WatchEvent } from "./events.js";

/** The event as this channel should get it, or undefined when it does not take it. */
export function forChannel(channel: SiteChannel, event: WatchEvent): WatchEvent | undefined {
  if (!channel.events.includes(event.event)) return undefined;
  if (event.event !== "findings") return event;
  const findings = event.findings.filter(
    (f) => severityRank(f.severity) >= severityRank(channel.minSeverity),
  );
  const problems = event.sources.some((s) => s.status !== "ok");
  if (findings.length === 0 && !problems) return undefined;
  return { ...event, findings };
}

/** Queue `event` for every channel that takes it; returns how many were queued. */
export async function notify(
  store: Store,
  notifications: SiteNotifications,
  event: WatchEvent,
): Promise<number> {
  let n = 0;
  for (const channel of Object.values(notifications.channels)) {
    const shaped = forChannel(channel, event);
    if (!shaped) continue;
    await queueNotification(store, {
      channel: channel.name,
      event: shaped.event,
      subject: subjectOf(shaped),
      payload: shaped as unknown as JsonValue,
    });
    n++;
  }
  return n;
}

export interface Delivery {
  delivered: number;
  failed: { id: number; channel: string; event: string; error: string }[];
}

function request(
  channel: SiteChannel,
  n: QueuedNotification,
  sentAt: string,
): { url: string; body: string; headers: Record<string, string> } {
  const event = n.payload as unknown as WatchEvent;
  const url = resolveSecret(channel.url, `notifications.channels.${channel.name}.url`);
  if (!/^https?:\/\//.test(url))
    throw new InputError(
      `notifications.channels.${channel.name}.url: not an http(s) URL (the value is not shown)`,
    );
  if (channel.type === "slack") return { url, body: JSON.stringify(slackMessage(event)), headers: {} };
  if (channel.type === "mattermost")
    return {
      url,
      body: JSON.stringify(
        mattermostMessage(event, {
          ...(channel.channel ? { channel: channel.channel } : {}),
          ...(channel.username ? { username: channel.username } : {}),
        }),
      ),
      headers: {},
    };
  const body = JSON.stringify(webhookBody(event, sentAt, n.id));
  const key = resolveSecret(channel.secret, `notifications.channels.${channel.name}.secret`);
  return {
    url,
    body,
    headers: {
      [SIGNATURE_HEADER]: signBody(body, key),
      "X-Compat-Event": event.event,
      "X-Compat-Delivery": String(n.id),
    },
  };
}

/** Send every queued message (each channel's in order); a channel that fails never stops the others. */
export async function deliver(store: Store, notifications: SiteNotifications): Promise<Delivery> {
  const out: Delivery = { delivered: 0, failed: [] };
  const pending = await pendingNotifications(store, { maxAttempts: notifications.retry.runs });
  // a channel that failed once in this run is not tried again in it: its messages wait for the next
  const down = new Set<string>();
  for (const n of pending) {
    if (down.has(n.channel)) continue;
    const channel = Object.hasOwn(notifications.channels, n.channel)
      ? notifications.channels[n.channel]
      : undefined;
    let error: string | undefined;
    if (!channel) error = "the channel is no longer in the site config";
    else {
      try {
        const req = request(channel, n, isoNow());
        const r = await postJson(channel.name, req.url, req.body, req.headers, notifications.retry);
        if (!r.ok) error = r.error ?? "not delivered";
      } catch (e) {
        if (!isCompatError(e)) throw e;
        error = e.message;
        log.warn(`notify ${n.channel}: ${e.message}`);
      }
    }
    await recordAttempt(store, n.id, error === undefined ? {} : { error });
    if (error === undefined) out.delivered++;
    else {
      down.add(n.channel);
      out.failed.push({ id: n.id, channel: n.channel, event: n.event, error });
      log.warn(
        `notify ${n.channel}: message ${n.id} (${n.event} ${n.subject}) not delivered: ${error}; it is tried again next run`,
      );
    }
  }
  return out;
}

/** Queue and send one event now (for the update loop); never throws for a channel's failure. */
export async function notifyEvent(
  store: Store,
  notifications: SiteNotifications,
  event: WatchEvent,
): Promise<Delivery> {
  await notify(store, notifications, event);
  return deliver(store, notifications);
}
