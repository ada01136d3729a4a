/**
 * compat watch --once as cron runs it, against a real HTTP server standing for Slack and a signed
 * generic webhook: one message per layer with new findings, signatures that verify, nothing sent
 * when nothing is new, a finding resolved by the publication that followed it, a channel that
 * fails tried again by the next run, and a source without data told once.
 */
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import { recordPublication } from "../../src/store/publications.js";
import { compat, compatAsync, compatBin, projectRoot } from "../helpers/cli.js";
import { ebuild, makeGentooRepo } from "../helpers/gentoo-git.js";
import { writeGlsa, writeVdbEntry } from "../helpers/glsa-fixtures.js";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.js";

const work = mkdtempSync(join(tmpdir(), "compat-watch-"));
const repo = join(work, "repo");
const debPrefix = join(repo, "versions/2025.06/compat/linux/x86_64");
const genPrefix = join(repo, "versions/2023.06/compat/linux/x86_64");
const HOOK_KEY = "a-shared-secret-for-the-test";
let receiver: Receiver;
let pinned = "";

/** The debian fixture's index, dated today so it is current whenever the test runs. */
function freshIndex(): string {
  const dir = join(work, "index");
  cpSync(join(projectRoot, "src/security/debian-security/testdata/lists"), dir, { recursive: true });
  const release = join(dir, readdirSync(dir).find((n) => n.endsWith("_InRelease"))!);
  const now = new Date();
  writeFileSync(
    release,
    readFileSync(release, "utf8")
      .replace(/^Date: .*$/m, `Date: ${now.toUTCString()}`)
      .replace(
        /^Valid-Until: .*$/m,
        `Valid-Until: ${new Date(now.getTime() + 7 * 86_400_000).toUTCString()}`,
      ),
  );
  return dir;
}

function writeSite(extra = ""): string {
  const config = join(work, "compat.yaml");
  writeFileSync(
    config,
    `state: state
layers:
  dev: {spec: specs/dev.yaml}
  eessi: {spec: specs/eessi.yaml}
targets:
  staging: {to: "local:repo", policy: {approvals: 0}}
advisories:
  glsa: {dir: glsa}
  debianSecurity: {index: index}
  gentooGit: {repository: gentoo}
watch:
  autoUpdate: {policy: propose, minSeverity: normal}
notifications:
  retry: {attempts: 2, backoffMs: 10}
  channels:
    ops:
      type: slack
      url: {env: COMPAT_TEST_SLACK_URL}
      events: [findings]
    hook:
      type: webhook
      url: {env: COMPAT_TEST_HOOK_URL}
      secret: {file: hook.key}
${extra}`,
  );
  return config;
}

beforeAll(async () => {
  receiver = await startReceiver();
  mkdirSync(join(work, "specs"), { recursive: true });
  cpSync(join(projectRoot, "src/security/debian-security/testdata/layer"), debPrefix, { recursive: true });
  for (const [cpv, slot] of [
    ["dev-libs/openssl-3.0.13", "0/3"],
    ["net-misc/curl-8.5.0", "0"],
  ] as const)
    writeVdbEntry(genPrefix, cpv, slot);
  writeGlsa(join(work, "glsa"), {
    id: "202402-08",
    title: "OpenSSL: Multiple Vulnerabilities",
    impact: "high",
    packages: [
      {
        name: "dev-libs/openssl",
        vulnerable: [{ range: "lt", version: "3.0.14" }],
        unaffected: [{ range: "ge", version: "3.0.14" }],
      },
    ],
    cves: ["CVE-2024-4603"],
  });
  const today = new Date().toISOString();
  const hashes = makeGentooRepo(join(work, "gentoo"), [
    {
      subject: "*/*: the layer's tree",
      add: {
        "dev-libs/openssl/openssl-3.0.13.ebuild": ebuild("0/3"),
        "net-misc/curl/curl-8.5.0.ebuild": ebuild(),
      },
      date: today,
    },
    {
      subject: "net-misc/curl: add 8.7.1",
      body: "Fixes CVE-2024-2398.",
      trailers: ["Bug: https://bugs.gentoo.org/928564"],
      add: { "net-misc/curl/curl-8.7.1.ebuild": ebuild() },
      date: today,
    },
    {
      subject: "net-misc/curl: Stabilize 8.7.1 amd64, #928564",
      add: { "net-misc/curl/curl-8.7.1.ebuild": ebuild("0", 'KEYWORDS="amd64"\n') },
      date: today,
    },
  ]);
  pinned = hashes[0]!;
  writeFileSync(
    join(work, "specs/dev.yaml"),
    'repository: software.example.org\nstack: dev\nversion: "2025.06"\narches: [x86_64]\nflavor: debian\ndebian: {suite: bookworm}\n',
  );
  writeFileSync(
    join(work, "specs/eessi.yaml"),
    `repository: software.example.org\nstack: eessi\nversion: "2023.06"\narches: [x86_64, aarch64]\nflavor: gentoo\ngentoo:\n  repository: {commit: "${pinned}"}\n`,
  );
  writeFileSync(join(work, "hook.key"), `${HOOK_KEY}\n`, { mode: 0o600 });
  freshIndex();
});
afterAll(async () => {
  await receiver.close();
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({
  ...process.env,
  COMPAT_TEST_SLACK_URL: receiver.url("/slack/T000/B000/XXXX"),
  COMPAT_TEST_HOOK_URL: receiver.url("/hook"),
});

async function watch(config: string, args: string[] = []) {
  const r = await compatAsync(["watch", "--once", "--json", "--config", config, ...args], {
    cwd: work,
    env: env(),
  });
  expect(r.stderr).not.toContain("XXXX"); // the webhook's URL (its secret) is never printed
  expect(r.stderr).not.toContain(HOOK_KEY);
  return { ...r, report: r.status === 0 || r.status === 1 ? JSON.parse(r.stdout) : undefined };
}

describe("compat watch --once", () => {
  it("sends one message per layer with new findings, signed on the webhook, and nothing when nothing is new", async () => {
    const config = writeSite();
    const first = await watch(config);
    expect(first.status, first.stderr).toBe(0);
    const layers = first.report.layers as {
      target: string;
      layer: string;
      arch: string;
      kind: string;
      opened: unknown[];
    }[];
    expect(layers.map((l) => [l.layer, l.arch, l.kind, l.opened.length])).toEqual([
      ["dev", "x86_64", "prefix", 5],
      ["eessi", "x86_64", "prefix", 2],
      ["eessi", "aarch64", "absent", 0],
    ]);

    // Slack: one message per layer with new findings, in Slack's format
    const slack = receiver.on("/slack/T000/B000/XXXX").map((r) => JSON.parse(r.body));
    expect(slack).toHaveLength(2);
    expect(slack.map((m) => m.text)).toEqual([
      expect.stringMatching(
        /^compat: 5 new security findings in dev x86_64 on staging \(1 critical, 1 high, 3 normal\)$/,
      ),
      expect.stringMatching(
        /^compat: 2 new security findings in eessi x86_64 on staging \(1 high, 1 normal\)$/,
      ),
    ]);
    expect(slack[1].blocks[0]).toMatchObject({ type: "header" });
    expect(slack[1].blocks[1].text.text).toMatch(
      /HIGH <https:\/\/security.gentoo.org\/glsa\/202402-08\|glsa 202402-08>/,
    );
    expect(slack[1].blocks[1].text.text).toMatch(
      /NORMAL <https:\/\/gitweb.gentoo.org\/repo\/gentoo.git\/commit\/\?id=[0-9a-f]{40}\|gentoo-git [0-9a-f]{12}>: net-misc\/curl-8.5.0 → &gt;=net-misc\/curl-8.7.1 CVE-2024-2398/,
    );

    // the webhook: every event, each body signed with the shared key
    const hook = receiver.on("/hook");
    for (const h of hook) {
      const want = `sha256=${createHmac("sha256", HOOK_KEY).update(h.body).digest("hex")}`;
      expect(h.headers["x-compat-signature-256"]).toBe(want);
      expect(h.headers["x-compat-event"]).toBe(JSON.parse(h.body).event);
    }
    const events = hook.map((h) => JSON.parse(h.body));
    expect(events.filter((e) => e.event === "findings").map((e) => `${e.layer}/${e.arch}`)).toEqual([
      "dev/x86_64",
      "eessi/x86_64",
    ]);
    const proposals = events.filter((e) => e.event === "update-proposed");
    expect(proposals.map((e) => [e.layer, e.packages])).toEqual([
      [
        "dev",
        [
          "libfoo1=1.0-1+deb12u1+b1",
          "libssl3=3.0.15-1~deb12u1",
          "libxml2=2.9.14+dfsg-1.3~deb12u2",
          "openssl=3.0.15-1~deb12u1",
          "zlib1g=1:1.2.13.dfsg-1+deb12u1",
        ],
      ],
      ["eessi", [">=dev-libs/openssl-3.0.14", ">=net-misc/curl-8.7.1"]],
    ]);
    // a tampered body does not verify
    const h0 = hook[0]!;
    expect(createHmac("sha256", HOOK_KEY).update(`${h0.body} `).digest("hex")).not.toBe(
      String(h0.headers["x-compat-signature-256"]).slice(7),
    );

    // the proposals are in the audit log
    const log = JSON.parse(compat(["log", "--json", "--config", config], { cwd: work }).stdout);
    expect(
      log.entries
        .filter((e: { action: string }) => e.action === "update.proposed")
        .map((e: { subject: string }) => e.subject),
    ).toEqual(["layer:dev/x86_64@staging", "layer:eessi/x86_64@staging"]);

    // a second run with nothing new sends nothing
    const before = receiver.received.length;
    const second = await watch(config);
    expect(second.status).toBe(0);
    expect(second.report.notifications).toEqual({ queued: 0, delivered: 0, failed: [] });
    expect(receiver.received.length).toBe(before);
  });

  it("records findings over time, resolved by the publication that came after them", async () => {
    const config = writeSite();
    // a new layer is published: openssl upgraded (the security update applied)
    const status = join(debPrefix, "var/lib/dpkg/status");
    writeFileSync(status, readFileSync(status, "utf8").replaceAll("3.0.13-1~deb12u1", "3.0.15-1~deb12u1"));
    const store = await openStore({ backend: "sqlite", path: join(work, "state/compat.db") });
    const publication = await recordPublication(store, {
      target: "staging",
      layer: "2025.06/compat/linux/x86_64",
      action: "publish",
      kind: "full",
      sha256: "a".repeat(64),
    });
    await store.close();
    const run = await watch(config);
    expect(run.status).toBe(0);
    expect(run.report.layers[0]).toMatchObject({ layer: "dev", resolved: 2, open: 3 });
    const list = compat(["findings", "--json", "--config", config, "--layer", "dev", "--resolved"], {
      cwd: work,
    });
    const resolved = JSON.parse(list.stdout).findings;
    expect(
      resolved
        .map((f: { advisoryId: string; resolvedByPublicationId: number }) => [
          f.advisoryId,
          f.resolvedByPublicationId,
        ])
        .sort(),
    ).toEqual([
      ["openssl_3.0.14-1~deb12u1", publication.id],
      ["openssl_3.0.15-1~deb12u1", publication.id],
    ]);
    const open = JSON.parse(
      compat(["findings", "--json", "--config", config, "--open"], { cwd: work }).stdout,
    ).findings;
    expect(open).toHaveLength(5);
    expect(open[0]).toMatchObject({
      target: "staging",
      firstSeen: expect.any(String),
      lastSeen: expect.any(String),
      resolvedAt: null,
    });
    const text = compat(["findings", "--config", config], { cwd: work });
    expect(text.stdout).toMatch(/openssl_3.0.15-1~deb12u1 .* by publication 1/);
    // --fail-on: exit 1 while an open finding is that severe
    expect((await watch(config, ["--fail-on", "critical"])).status).toBe(1);
  });

  it("tries a failing channel again with backoff, goes on, and delivers it on the next run", async () => {
    const config = writeSite();
    // a new finding appears: an upload of tar with a CVE the layer lacks
    const pk = join(work, "index", readdirSync(join(work, "index")).find((n) => n.endsWith("_Packages"))!);
    writeFileSync(
      pk,
      readFileSync(pk, "utf8").replace("Version: 1.34+dfsg-1.2+deb12u1", "Version: 1.34+dfsg-1.2+deb12u2"),
    );
    writeFileSync(
      join(work, "index/changelogs/tar_1.34+dfsg-1.2+deb12u2.changelog"),
      "tar (1.34+dfsg-1.2+deb12u2) bookworm-security; urgency=high\n\n  * CVE-2025-45582: path traversal.\n\n -- Security Team <team@security.debian.org>  Mon, 01 Dec 2026 10:00:00 +0000\n",
    );
    receiver.failNext(4, 503); // both tries of the slack message, both of the webhook's
    const before = receiver.received.length;
    const run = await watch(config);
    expect(run.status, run.stderr).toBe(0);
    expect(run.report.notifications.failed).toHaveLength(2);
    expect(run.stderr).toMatch(/notify ops: try 1 of 2 failed: HTTP 503/);
    expect(run.stderr).toMatch(/tried again next run/);
    expect(receiver.received.length).toBe(before);
    const next = await watch(config);
    expect(next.report.notifications.delivered).toBeGreaterThanOrEqual(2);
    const last = receiver.on("/slack/T000/B000/XXXX").at(-1)!;
    expect(JSON.parse(last.body).text).toMatch(/1 new security finding in dev x86_64 on staging \(1 high\)/);
  });

  it("tells once that a source has no data, keeps a message whose channel secret is missing, without stopping", async () => {
    const config = writeSite();
    rmSync(join(work, "glsa"), { recursive: true, force: true });
    const run = await compatAsync(["watch", "--once", "--json", "--config", config], {
      cwd: work,
      env: { ...env(), COMPAT_TEST_HOOK_URL: "" },
    });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.layers[1].sources.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ["glsa", "no-data"],
      ["gentoo-git", "ok"],
    ]);
    expect(report.events).toContainEqual({ event: "source-problem", subject: "staging/eessi/x86_64" });
    expect(run.stderr).toMatch(/COMPAT_TEST_HOOK_URL is not set/);
    expect(report.notifications.failed).toEqual([
      expect.objectContaining({ channel: "hook", event: "source-problem" }),
    ]);
    // the glsa findings were not resolved by a source that said nothing
    const open = JSON.parse(
      compat(["findings", "--json", "--config", config, "--open", "--source", "glsa"], { cwd: work }).stdout,
    );
    expect(open.findings).toHaveLength(1);
    // told once: the next run queues no second source-problem, and delivers the first
    const again = await watch(config);
    expect(again.report.events).not.toContainEqual({
      event: "source-problem",
      subject: "staging/eessi/x86_64",
    });
    const problem = receiver
      .on("/hook")
      .map((h) => JSON.parse(h.body))
      .filter((e) => e.event === "source-problem");
    expect(problem).toEqual([expect.objectContaining({ source: "glsa", status: "no-data", previous: "ok" })]);
  });

  it("says so on each scheduled run that checked nothing, keeps going, and stops on SIGTERM", async () => {
    const nowhere = join(work, "compat-nowhere-scheduled.yaml");
    writeFileSync(
      nowhere,
      readFileSync(writeSite(), "utf8")
        .replace('"local:repo"', '"local:nowhere"')
        .replace(
          "autoUpdate: {policy: propose, minSeverity: normal}",
          "schedule: '* * * * * *'\n  autoUpdate: {policy: off}",
        ),
    );
    const child = spawn(process.execPath, [compatBin, "watch", "--config", nowhere], {
      cwd: work,
      env: env(),
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while ((stderr.match(/nothing was checked/g) ?? []).length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGTERM");
    expect(await exited, stderr).toBe(0);
    expect(stderr).toMatch(
      /nothing was checked: no published layer could be read .*; this run is not a clean run/,
    );
    expect((stderr.match(/nothing was checked/g) ?? []).length).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it("exits 3 from a run that checked nothing (no layer published where the targets say)", async () => {
    const config = writeSite();
    const nowhere = join(work, "compat-nowhere.yaml");
    writeFileSync(nowhere, readFileSync(config, "utf8").replace('"local:repo"', '"local:nowhere"'));
    const run = await compatAsync(["watch", "--once", "--json", "--config", nowhere], {
      cwd: work,
      env: env(),
    });
    expect(run.status, run.stderr).toBe(3);
    expect(run.stderr).toMatch(/nothing was checked: no published layer could be read/);
    expect(JSON.parse(run.stdout).layers.map((l: { kind: string }) => l.kind)).toEqual([
      "absent",
      "absent",
      "absent",
    ]);
  });

  it("refuses a config with an unknown policy, a literal webhook URL, and a webhook without a key", () => {
    const bad = (extra: string) => {
      const config = join(work, "bad.yaml");
      writeFileSync(config, extra);
      return compat(["watch", "--once", "--config", config], { cwd: work });
    };
    // policy build is taken (it starts compat update: test/integration/update-dev.test.ts); a misspelt one is not
    const build = bad("watch:\n  autoUpdate: {policy: builds}\n");
    expect(build.status).toBe(2);
    expect(build.stderr).toMatch(/bad.yaml:2:\d+ watch.autoUpdate.policy: .*"builds"/);
    const literal = bad(
      "notifications:\n  channels:\n    ops: {type: slack, url: 'https://hooks.slack.com/services/T/B/SECRET'}\n",
    );
    expect(literal.status).toBe(2);
    expect(literal.stderr).not.toContain("SECRET");
    expect(literal.stderr).toMatch(/notifications.channels.ops.url: got a string \(expected a mapping\)/);
    const nokey = bad("notifications:\n  channels:\n    h: {type: webhook, url: {env: X}}\n");
    expect(nokey.status).toBe(2);
    expect(nokey.stderr).toMatch(/secret/);
    const cron = bad("watch:\n  schedule: '61 * * * *'\n");
    expect(cron.stderr).toMatch(/not a cron schedule/);
  });
});
