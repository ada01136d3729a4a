/**
 * Events as each channel wants them:
 * - Slack incoming webhooks: `{text, blocks}` (Block Kit: a header, then mrkdwn sections of at most
 *   3,000 characters; `text` is the notification's fallback);
 * - Mattermost incoming webhooks: `{text}` in Markdown (optionally `channel`, `username`);
 * - the generic webhook: the event itself as JSON, `{event, …, sentBy, sentAt}`.
 * Text from advisories and the store is escaped for each format, and long lists are cut with
 * "… and N more" so a message stays within what the services accept.
 */
import type { FindingBrief, WatchEvent } from "./events.js";

const MAX_LISTED = 40;

const slackEscape = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
const mdEscape = (s: string) => s.replace(/([\\`*_[\]<>|])/g, "\\$1");

function headline(e: WatchEvent): string {
  const where = `${e.layer} ${e.arch} on ${e.target}`;
  switch (e.event) {
    case "findings": {
      const counts = new Map<string, number>();
      for (const f of e.findings) counts.set(f.severity, (counts.get(f.severity) ?? 0) + 1);
      const by = ["critical", "high", "normal", "low"]
        .filter((s) => counts.has(s))
        .map((s) => `${counts.get(s)} ${s}`)
        .join(", ");
      return `compat: ${e.findings.length} new security finding${e.findings.length === 1 ? "" : "s"} in ${where}${by ? ` (${by})` : ""}`;
    }
    case "source-problem":
      return e.status === "ok"
        ? `compat: advisory source ${e.source} has current data again for ${where}`
        : `compat: advisory source ${e.source} is ${e.status === "no-data" ? "without data" : e.status} for ${where}`;
    case "update-proposed":
      return `compat: an update of ${where} is proposed (${e.packages.length} package${e.packages.length === 1 ? "" : "s"})`;
    case "candidate-ready":
      return `compat: candidate ${e.candidate} of ${where} passed its gates and waits for approval`;
    case "gate-failed":
      return `compat: gate ${e.gate} failed for candidate ${e.candidate} of ${where}`;
    case "publication":
      return `compat: ${e.action === "rollback" ? "rolled back" : "published"} ${where}${e.sha256 ? ` (${e.sha256.slice(0, 12)})` : ""} by ${e.by}`;
  }
}

function findingLine(
  f: FindingBrief,
  link: (text: string, url: string | null) => string,
  esc: (s: string) => string,
): string {
  const cves = f.cves.length
    ? ` ${f.cves.slice(0, 5).join(" ")}${f.cves.length > 5 ? ` (+${f.cves.length - 5})` : ""}`
    : "";
  return `• ${f.severity.toUpperCase()} ${link(`${f.source} ${f.id}`, f.url)}: ${esc(f.installed)}${f.fix ? ` → ${esc(f.fix)}` : " (no fix yet)"}${esc(cves)}`;
}

/** The lines of the body, for any text format. */
function bodyLines(
  e: WatchEvent,
  link: (text: string, url: string | null) => string,
  esc: (s: string) => string,
): string[] {
  switch (e.event) {
    case "findings": {
      const lines = e.findings.slice(0, MAX_LISTED).map((f) => findingLine(f, link, esc));
      if (e.findings.length > MAX_LISTED)
        lines.push(
          `… and ${e.findings.length - MAX_LISTED} more (compat findings --layer ${esc(e.layer)} --open)`,
        );
      const notes = e.sources.filter((s) => s.status !== "ok");
      for (const s of notes)
        lines.push(`⚠ ${esc(s.source)}: ${s.status}${s.reason ? ` — ${esc(s.reason)}` : ""}`);
      lines.push(`${e.stillOpen} still open from before, ${e.resolved} resolved this run.`);
      return lines;
    }
    case "source-problem":
      return [
        `${esc(e.source)}: ${e.previous ?? "new"} → ${e.status}${e.reason ? ` — ${esc(e.reason)}` : ""}`,
        e.status === "ok"
          ? "Its findings are current again."
          : "Until it is fixed, no findings from this source means no data, not no vulnerabilities.",
      ];
    case "update-proposed":
      return [
        `Packages: ${esc(e.packages.join(" "))}`,
        ...e.findings
          .slice(0, MAX_LISTED)
          .map((f) => `• ${f.severity.toUpperCase()} ${esc(`${f.source} ${f.id}`)} ${esc(f.cves.join(" "))}`),
        e.policy === "build"
          ? "Policy build: compat update builds a candidate for these packages and runs its gates; approvers are told when it is ready."
          : "Policy propose: nothing was built; to build a candidate: compat update LAYER --arch ARCH --packages …",
      ];
    case "candidate-ready":
      return [
        `sha256 ${e.sha256}`,
        `gates: ${esc(e.gates.join(", "))}`,
        ...(e.packageDiff ? [esc(e.packageDiff)] : []),
      ];
    case "gate-failed":
      return [esc(e.reason)];
    case "publication":
      return [`${e.kind ?? "?"} artifact ${e.sha256 ?? "(none)"}, publication ${e.publication}`];
  }
}

/** Pack lines into chunks of at most `max` characters. */
function chunks(lines: string[], max: number): string[] {
  const out: string[] = [];
  let cur = "";
  for (const l of lines) {
    const line = l.length > max ? `${l.slice(0, max - 1)}…` : l;
    if (cur && cur.length + 1 + line.length > max) {
      out.push(cur);
      cur = "";
    }
    cur = cur ? `${cur}\n${line}` : line;
  }
  if (cur) out.push(cur);
  return out;
}

export function slackMessage(e: WatchEvent): Record<string, unknown> {
  const link = (text: string, url: string | null) =>
    url && /^https?:\/\/[^\s<>|]+$/.test(url) ? `<${url}|${slackEscape(text)}>` : slackEscape(text);
  const title = headline(e);
  return {
    text: slackEscape(title),
    blocks: [
      { type: "header", text: { type: "plain_text", text: title.slice(0, 150) } },
      ...chunks(bodyLines(e, link, slackEscape), 3000).map((text) => ({
        type: "section",
        text: { type: "mrkdwn", text },
      })),
    ],
  };
}

export function mattermostMessage(
  e: WatchEvent,
  opts: { channel?: string; username?: string } = {},
): Record<string, unknown> {
  const link = (text: string, url: string | null) =>
    url && /^https?:\/\/[^\s()]+$/.test(url) ? `[${mdEscape(text)}](${url})` : mdEscape(text);
  const text = [`#### ${mdEscape(headline(e))}`, ...bodyLines(e, link, mdEscape)].join("\n").slice(0, 16000);
  return {
    text,
    ...(opts.channel ? { channel: opts.channel } : {}),
    ...(opts.username ? { username: opts.username } : {}),
  };
}

export function webhookBody(e: WatchEvent, sentAt: string, delivery: number): Record<string, unknown> {
  return { ...e, summary: headline(e), delivery, sentBy: "compat", sentAt };
}
