import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "../../../test/helpers/webhook-receiver.js";
import { InputError } from "../../errors.js";
import { parseSiteConfig, type SiteChannel } from "../../site/load.js";
import type { FindingBrief, WatchEvent } from "./events.js";
import { mattermostMessage, slackMessage, webhookBody } from "./format.js";
import { forChannel } from "./index.js";
import { redactUrl, resolveSecret } from "./secrets.js";
import { postJson, signBody } from "./send.js";

const work = mkdtempSync(join(tmpdir(), "compat-notify-"));
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  rmSync(work, { recursive: true, force: true });
});

const finding = (i: number, over: Partial<FindingBrief> = {}): FindingBrief => ({
  source: "debian-security",
  id: `pkg${i}_1.0-1+deb12u1`,
  severity: "high",
  package: `pkg${i}`,
  installed: `pkg${i}_1.0-1`,
  fix: `pkg${i} (>= 1.0-1+deb12u1)`,
  cves: [`CVE-2026-${1000 + i}`],
  title: "t",
  url: "https://security-tracker.debian.org/tracker/source-package/pkg",
  ...over,
});

const event = (findings: FindingBrief[]): WatchEvent => ({
  event: "findings",
  target: "staging",
  layer: "dev",
  arch: "x86_64",
  findings,
  resolved: 0,
  stillOpen: 0,
  sources: [{ source: "debian-security", status: "stale", reason: "data from 2026-01-01" }],
});

describe("message formats", () => {
  it("Slack: escapes what advisories say, links only http(s) URLs, and keeps sections within 3,000 characters", () => {
    const hostile = finding(1, { installed: "<!channel> & <script>", url: "javascript:alert(1)" });
    const many = Array.from({ length: 60 }, (_, i) => finding(i + 2, { installed: `x${"y".repeat(150)}` }));
    const m = slackMessage(event([hostile, ...many])) as {
      text: string;
      blocks: { type: string; text: { text: string } }[];
    };
    expect(m.text).toBe("compat: 61 new security findings in dev x86_64 on staging (61 high)");
    const body = m.blocks
      .slice(1)
      .map((b) => b.text.text)
      .join("\n");
    expect(body).toContain("&lt;!channel&gt; &amp; &lt;script&gt;");
    expect(body).not.toContain("<javascript:");
    expect(body).toContain(
      "<https://security-tracker.debian.org/tracker/source-package/pkg|debian-security pkg2_1.0-1+deb12u1>",
    );
    for (const b of m.blocks.slice(1)) expect(b.text.text.length).toBeLessThanOrEqual(3000);
    expect(body).toMatch(/… and 21 more \(compat findings --layer dev --open\)/);
    expect(body).toMatch(/⚠ debian-security: stale — data from 2026-01-01/);
  });

  it("Mattermost: Markdown with escaped text, channel and username when given", () => {
    const m = mattermostMessage(event([finding(1, { installed: "a|b*c" })]), {
      channel: "security",
      username: "compat",
    });
    expect(m).toMatchObject({ channel: "security", username: "compat" });
    expect(m.text).toMatch(/^#### compat: 1 new security finding in dev x86\\_64 on staging \(1 high\)/);
    expect(m.text).toContain("a\\|b\\*c");
    expect(m.text).toContain(
      "[debian-security pkg1\\_1.0-1+deb12u1](https://security-tracker.debian.org/tracker/source-package/pkg)",
    );
  });

  it("the generic webhook gets the event itself, and its signature is GitHub's scheme", () => {
    const body = JSON.stringify(webhookBody(event([finding(1)]), "2026-12-07T00:00:00.000Z", 7));
    expect(JSON.parse(body)).toMatchObject({
      event: "findings",
      layer: "dev",
      delivery: 7,
      sentBy: "compat",
    });
    expect(signBody(body, "k")).toBe(`sha256=${createHmac("sha256", "k").update(body).digest("hex")}`);
  });

  it("a channel gets only its events, and only findings at or above its severity", () => {
    const channel = {
      name: "c",
      type: "slack",
      url: { env: "X" },
      events: ["findings"],
      minSeverity: "high",
    } as SiteChannel;
    expect(
      forChannel(channel, {
        event: "gate-failed",
        target: "t",
        layer: "l",
        arch: "a",
        candidate: 1,
        gate: "checks",
        reason: "r",
      }),
    ).toBeUndefined();
    const shaped = forChannel(channel, event([finding(1), finding(2, { severity: "low" })]));
    expect(shaped?.event === "findings" && shaped.findings.map((f) => f.id)).toEqual(["pkg1_1.0-1+deb12u1"]);
  });
});

describe("sending", () => {
  it("tries again on 5xx with backoff, not on 4xx, and says why it gave up", async () => {
    receiver.failNext(1, 503);
    const ok = await postJson("c", receiver.url("/a"), "{}", {}, { attempts: 3, backoffMs: 5 });
    expect(ok).toEqual({ ok: true, tries: 2 });
    receiver.failNext(1, 404);
    const no = await postJson("c", receiver.url("/a"), "{}", {}, { attempts: 3, backoffMs: 5 });
    expect(no).toMatchObject({ ok: false, tries: 1, error: "HTTP 404: down for maintenance" });
  });

  it("a refused connection and a server that never answers are failures, not hangs", async () => {
    const closed = createServer(() => {});
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const freePort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const refused = await postJson(
      "c",
      `http://127.0.0.1:${freePort}/x`,
      "{}",
      {},
      { attempts: 2, backoffMs: 5 },
    );
    expect(refused).toMatchObject({ ok: false, tries: 2, error: expect.stringMatching(/ECONNREFUSED/) });
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const slow = await postJson(
      "c",
      `http://127.0.0.1:${port}/`,
      "{}",
      {},
      { attempts: 1, backoffMs: 5, timeoutMs: 300 },
    );
    expect(slow).toMatchObject({ ok: false, error: "timed out" });
    silent.close();
  });

  it("secrets come from the environment or a file, and messages never show them", () => {
    process.env.COMPAT_TEST_SECRET = "https://hooks.example/T/SECRET";
    expect(resolveSecret({ env: "COMPAT_TEST_SECRET" }, "x")).toBe("https://hooks.example/T/SECRET");
    delete process.env.COMPAT_TEST_SECRET;
    expect(() => resolveSecret({ env: "COMPAT_TEST_SECRET" }, "x")).toThrow(/COMPAT_TEST_SECRET is not set/);
    const file = join(work, "key");
    writeFileSync(file, "s3cret\nsecond line\n");
    expect(resolveSecret({ file }, "x")).toBe("s3cret");
    writeFileSync(file, "\n");
    expect(() => resolveSecret({ file }, "x")).toThrow(InputError);
    expect(() => resolveSecret({ file: join(work, "none") }, "x")).toThrow(/cannot read .*none \(ENOENT\)/);
    expect(redactUrl("https://hooks.slack.com/services/T0/B0/XYZ")).toBe("https://hooks.slack.com/…");
  });
});

describe("the site config's watch and notification sections", () => {
  const parse = (yaml: string) => () => parseSiteConfig(yaml, join(work, "compat.yaml"));

  it("resolves secret files against the config's directory, and defaults the rest", () => {
    const site = parseSiteConfig(
      "notifications:\n  channels:\n    hook: {type: webhook, url: {env: U}, secret: {file: keys/hmac}}\n",
      join(work, "compat.yaml"),
    );
    expect(site.notifications.channels.hook).toMatchObject({
      type: "webhook",
      secret: { file: join(work, "keys/hmac") },
    });
    expect(site.watch).toMatchObject({
      schedule: "0 6 * * *",
      timezone: "UTC",
      autoUpdate: { policy: "off" },
    });
    expect(site.advisories).toMatchObject({ maxAgeDays: 7, cacheDir: join(work, "compat-state/cache") });
  });

  it("refuses a bad cron line or time zone, an unknown event, a secret given as a value", () => {
    expect(parse("watch:\n  schedule: '* * *'\n")).toThrow(InputError);
    expect(parse("watch:\n  timezone: Mars/Olympus\n")).toThrow(InputError);
    expect(
      parse("notifications:\n  channels:\n    c: {type: slack, url: {env: U}, events: [everything]}\n"),
    ).toThrow(InputError);
    expect(parse("notifications:\n  channels:\n    c: {type: slack, url: 'https://x/T/SECRET'}\n")).toThrow(
      InputError,
    );
    expect(parse("notifications:\n  channels:\n    c: {type: slack, url: {env: 'A B'}}\n")).toThrow(
      InputError,
    );
    // policy build starts compat update (src/update/watch-starter.ts): accepted now
    expect(parse("watch:\n  autoUpdate: {policy: build}\n")).not.toThrow();
  });
});
