/**
 * The update loop in a real browser (Debian's headless Chromium through playwright-core), with no
 * JavaScript of ours: an approver logs in with a password and approves a candidate from its page,
 * a second approver logs in with an API token and approves, a maintainer promotes it to
 * production, follows the job's run page until it ends, and the dashboard shows the promotion.
 * Screenshots of the dashboard and the candidate page are kept in reports/screenshots/ (the README
 * shows copies).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listApprovals } from "../../src/store/approvals.js";
import { requireCandidate } from "../../src/store/candidates.js";
import { publishToSiteTarget } from "../../src/update/promote.js";
import { launchChromium, SCREENSHOTS } from "../helpers/browser.js";
import { makeArtifactPair, TOP_DIR, treeDigest } from "../helpers/layer-tree.js";
import { type ServerFixture, startServerFixture } from "../helpers/serve.js";
import { useStores } from "../helpers/stores.js";
import { makeTestSite, seedCandidate } from "../helpers/update-site.js";

const sha = (artifact: string) =>
  JSON.parse(readFileSync(`${artifact}.manifest.json`, "utf8")).sha256 as string;

describe("approving and promoting in Chromium", () => {
  const stores = useStores("sqlite");
  let work: string;
  let f: ServerFixture;
  let browser: Browser;
  let pair: Awaited<ReturnType<typeof makeArtifactPair>>;
  let production: string;
  let candidate: number;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "compat-browser-"));
    pair = await makeArtifactPair(join(work, "pair"), { files: 100 });
    const location = await stores.location();
    const t = await makeTestSite(join(work, "site"), location);
    production = t.production;
    f = await startServerFixture({
      location,
      configFile: t.configFile,
      approverKeys: { alice: t.keys.alice.privateKey, bob: t.keys.bob.privateKey },
      moreUsers: { bob: ["approver"] },
    });
    await publishToSiteTarget(t.site, f.store, pair.artifactA, "staging");
    candidate = (
      await seedCandidate(t, f.store, {
        full: pair.artifactB,
        delta: pair.deltaAB,
        baseSha256: sha(pair.artifactA),
        requestedBy: "max",
      })
    ).id;
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await f?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  async function loggedIn(creds: { user: string; password: string } | { token: string }): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${f.url}/`);
    expect(await page.title()).toMatch(/Log in/i);
    if ("token" in creds) await page.fill('input[name="token"]', creds.token);
    else {
      await page.fill('input[name="user"]', creds.user);
      await page.fill('input[name="password"]', creds.password);
    }
    await Promise.all([
      page.waitForURL(`${f.url}/`),
      page.locator('form[action="/login"] button[type="submit"]').first().click(),
    ]);
    return page;
  }

  it("logs in, opens the dashboard, approves, promotes and sees the promotion", async () => {
    // alice: password login, the dashboard, the candidate page, her approval
    const alice = await loggedIn({ user: "alice", password: f.password("approver") });
    const row = alice.locator("table tbody tr", { hasText: "x86_64" }).first();
    await expect.poll(() => row.textContent()).toContain(sha(pair.artifactA).slice(0, 12));
    expect(await row.textContent()).toMatch(/ready/);
    await alice.screenshot({ path: join(SCREENSHOTS, "dashboard.png"), fullPage: true });

    await alice.goto(`${f.url}/candidates/${candidate}`);
    expect(await alice.locator("h1").textContent()).toBe(`Candidate ${candidate}`);
    await alice.screenshot({ path: join(SCREENSHOTS, "candidate.png"), fullPage: true });
    await alice.fill(
      `form[action="/candidates/${candidate}/approve"] input[name="reason"]`,
      "diff and gates read",
    );
    await Promise.all([
      alice.waitForURL(/done=approved/, { timeout: 60_000 }),
      alice.click(`form[action="/candidates/${candidate}/approve"] button`),
    ]);
    expect(await alice.locator("main").textContent()).toContain("Your approval is recorded.");
    // no promote form for an approver
    expect(await alice.locator(`form[action="/candidates/${candidate}/promote"]`).count()).toBe(0);

    // bob: login with his API token, approves
    const bob = await loggedIn({ token: f.userTokens.bob! });
    await bob.goto(`${f.url}/candidates/${candidate}`);
    await Promise.all([
      bob.waitForURL(/done=approved/, { timeout: 60_000 }),
      bob.click(`form[action="/candidates/${candidate}/approve"] button`),
    ]);
    const approvals = await listApprovals(f.store, candidate);
    expect(approvals.map((a) => a.approver).sort()).toEqual(["alice", "bob"]);
    expect(new Set(approvals.map((a) => a.artifactSha256))).toEqual(new Set([sha(pair.artifactB)]));

    // max: promotes to production from the candidate page and follows the run
    const max = await loggedIn({ user: "max", password: f.password("maintainer") });
    await max.goto(`${f.url}/candidates/${candidate}`);
    expect(await max.locator(`form[action="/candidates/${candidate}/approve"]`).count()).toBe(0);
    await max.selectOption(
      `form[action="/candidates/${candidate}/promote"] select[name="target"]`,
      "production",
    );
    await Promise.all([
      max.waitForURL(/\/runs\/\d+$/),
      max.click(`form[action="/candidates/${candidate}/promote"] button`),
    ]);
    // the run page refreshes itself (meta refresh) until the job ends
    await expect
      .poll(async () => max.locator("main").textContent(), { timeout: 90_000, interval: 500 })
      .toMatch(/succeeded/);
    expect(treeDigest(join(production, "versions", TOP_DIR))).toBe(pair.digestB);
    expect((await requireCandidate(f.store, candidate)).state).toBe("published");

    await max.goto(`${f.url}/`);
    const promoted = max.locator("table tbody tr", { hasText: "x86_64" }).first();
    const cells = await promoted.textContent();
    expect(cells).toContain(sha(pair.artifactB).slice(0, 12));
    await max.screenshot({ path: join(SCREENSHOTS, "dashboard-promoted.png"), fullPage: true });
    // the audit log page shows who did it
    await max.goto(`${f.url}/audit`);
    const audit = await max.locator("main").textContent();
    expect(audit).toMatch(/alice/);
    expect(audit).toMatch(/max/);
  });

  it("on a phone-sized screen the dashboard is readable and the pages work without JavaScript", async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      javaScriptEnabled: false,
    });
    const page = await context.newPage();
    await page.goto(`${f.url}/login`);
    await page.fill('input[name="token"]', f.tokens.viewer);
    await Promise.all([
      page.waitForURL(`${f.url}/`),
      page.locator('form[action="/login"] button[type="submit"]').first().click(),
    ]);
    // nothing wider than the screen
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth).catch(() => undefined);
    if (overflow !== undefined) expect(overflow).toBeLessThanOrEqual(390);
    expect(await page.locator("main").textContent()).toContain("x86_64");
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-phone.png"), fullPage: true });
    await context.close();
  });
});
