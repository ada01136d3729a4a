/**
 * The site config's `notifications:` section: named channels (Slack or Mattermost incoming
 * webhooks, or a generic JSON webhook signed with HMAC-SHA256), each with the events it gets.
 * Webhook URLs and signing keys are secrets: the config names an environment variable or a file
 * that holds them, never the value, and compat never prints them.
 */
import { z } from "zod";
import { SEVERITIES } from "../../security/advisory.js";

export const NOTIFICATION_EVENTS = [
  "findings",
  "source-problem",
  "update-proposed",
  "candidate-ready",
  "gate-failed",
  "publication",
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export const secretSchema = z
  .union([
    z
      .strictObject({
        env: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "not an environment variable name" })
          .describe("the environment variable that holds it"),
      })
      .describe("a secret from an environment variable"),
    z
      .strictObject({
        file: z
          .string()
          .min(1)
          .refine((p) => !p.includes("\0"), { message: "a path cannot hold a NUL byte" })
          .describe("the file that holds it (first line; relative to this file; keep it mode 0600)"),
      })
      .describe("a secret from a file"),
  ])
  .describe("a secret: `{env: VAR}` or `{file: PATH}`, never the value itself");

const common = {
  events: z
    .array(z.enum(NOTIFICATION_EVENTS))
    .min(1)
    .default([...NOTIFICATION_EVENTS])
    .describe(`the events sent to this channel: ${NOTIFICATION_EVENTS.join(", ")}; default all`),
  minSeverity: z
    .enum(SEVERITIES)
    .default("low")
    .describe("new findings below this severity are left out of this channel's messages"),
};

export const channelSchema = z
  .discriminatedUnion("type", [
    z
      .strictObject({
        type: z.literal("slack"),
        url: secretSchema.describe("the incoming webhook's URL (a secret)"),
        ...common,
      })
      .describe("a Slack incoming webhook (its JSON: text and blocks)"),
    z
      .strictObject({
        type: z.literal("mattermost"),
        url: secretSchema.describe("the incoming webhook's URL (a secret)"),
        channel: z.string().min(1).optional().describe("post to this channel instead of the webhook's own"),
        username: z.string().min(1).optional().describe("the name the posts show"),
        ...common,
      })
      .describe("a Mattermost incoming webhook (its JSON: text in Markdown)"),
    z
      .strictObject({
        type: z.literal("webhook"),
        url: secretSchema.describe("where the JSON is POSTed (a secret: it may carry a token)"),
        secret: secretSchema.describe(
          "the HMAC-SHA256 key: the body's signature goes in `X-Compat-Signature-256: sha256=<hex>`, as GitHub signs its webhooks",
        ),
        ...common,
      })
      .describe("a generic JSON webhook, signed"),
  ])
  .describe("a notification channel");

export const notificationsSchema = z
  .strictObject({
    channels: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: "not a channel name" }),
        channelSchema,
      )
      .default({})
      .describe("the channels by name"),
    retry: z
      .strictObject({
        attempts: z.int().min(1).max(10).default(4).describe("tries per message in one run"),
        backoffMs: z
          .int()
          .min(0)
          .max(60_000)
          .default(1000)
          .describe("the wait before the second try; doubled each time"),
        runs: z
          .int()
          .min(1)
          .max(100)
          .default(5)
          .describe("runs that try a message again before it is given up (logged and kept in the store)"),
      })
      .default({ attempts: 4, backoffMs: 1000, runs: 5 })
      .describe("how a channel that fails is tried again"),
  })
  .describe(
    "where compat tells people: new findings, sources without data, proposals, candidates, gates, publications",
  );

export type ChannelConfig = z.output<typeof channelSchema>;
export type SecretRef = z.output<typeof secretSchema>;
