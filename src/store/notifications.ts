/**
 * The notifications table, an outbox: a message is queued for a channel, and marked delivered
 * when the channel took it. A message a channel refused stays queued and is tried again by the
 * next run (up to a number of attempts), so a channel that was down at 06:00 still gets the
 * morning's findings. Payloads hold the event only; channel URLs and keys never reach the store.
 */
import type { Selectable } from "kysely";
import { fromJsonText, type JsonValue, toJsonText } from "./json.js";
import type { NotificationsTable } from "./schema.js";
import { isoNow, type Store } from "./store.js";

export interface QueuedNotification {
  id: number;
  channel: string;
  event: string;
  subject: string;
  payload: JsonValue;
  createdAt: string;
  attempts: number;
  lastError: string | null;
  deliveredAt: string | null;
}

export async function queueNotification(
  store: Store,
  n: { channel: string; event: string; subject: string; payload: JsonValue },
): Promise<QueuedNotification> {
  const row = await store.db
    .insertInto("notifications")
    .values({
      channel: n.channel,
      event: n.event,
      subject: n.subject,
      payload: toJsonText(n.payload),
      created_at: isoNow(),
      attempts: 0,
      last_attempt_at: null,
      last_error: null,
      delivered_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toNotification(row);
}

/** Undelivered messages, oldest first; those tried `maxAttempts` times or more are left out. */
export async function pendingNotifications(
  store: Store,
  opts: { channel?: string; maxAttempts?: number } = {},
): Promise<QueuedNotification[]> {
  let q = store.db.selectFrom("notifications").selectAll().where("delivered_at", "is", null);
  if (opts.channel !== undefined) q = q.where("channel", "=", opts.channel);
  if (opts.maxAttempts !== undefined) q = q.where("attempts", "<", opts.maxAttempts);
  return (await q.orderBy("id").execute()).map(toNotification);
}

/** Record one delivery attempt (several tries with backoff count as one attempt). */
export async function recordAttempt(store: Store, id: number, outcome: { error?: string }): Promise<void> {
  const at = isoNow();
  const row = await store.db
    .selectFrom("notifications")
    .select("attempts")
    .where("id", "=", id)
    .executeTakeFirst();
  await store.db
    .updateTable("notifications")
    .set({
      attempts: (row?.attempts ?? 0) + 1,
      last_attempt_at: at,
      last_error: outcome.error ?? null,
      delivered_at: outcome.error === undefined ? at : null,
    })
    .where("id", "=", id)
    .execute();
}

export async function listNotifications(
  store: Store,
  opts: { limit?: number } = {},
): Promise<QueuedNotification[]> {
  const rows = await store.db
    .selectFrom("notifications")
    .selectAll()
    .orderBy("id", "desc")
    .limit(opts.limit ?? 100)
    .execute();
  return rows.map(toNotification);
}

function toNotification(row: Selectable<NotificationsTable>): QueuedNotification {
  return {
    id: row.id,
    channel: row.channel,
    event: row.event,
    subject: row.subject,
    payload: fromJsonText<JsonValue>(row.payload),
    createdAt: row.created_at,
    attempts: row.attempts,
    lastError: row.last_error,
    deliveredAt: row.delivered_at,
  };
}
