/**
 * The pages in a real browser (Debian's headless Chromium through playwright-core), with no
 * JavaScript of ours: log in with a password and with an API token, read the dashboard and a
 * candidate's page, see a payload an advisory wrote shown as text, log out; a phone-sized screen
 * with JavaScript off. The approval flow in the browser is browser-approval.test.ts.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { type Seeded, type ServerFixture, seedStore, startServerFixture } from "../helpers/serve.js";
import { useStores } from "../helpers/stores.js";

const PAYLOAD = `<img src=x onerror="document.title='pwned'">`;

describe("compat serve's pages in Chromium", () => {
  const stores = useStores("sqlite");
  let f: ServerFixture;
  let browser: Browser;
  let seeded: Seeded;

  beforeAll(async () => {
    f = await startServerFixture({
      location: await stores.location(),
      siteYaml: "targets:\n  staging:\n    to: local:stage\n    policy: { approvals: 0 }\n",
    });
    seeded = await seedStore(f.store, PAYLOAD);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await f?.stop();
  });

  async function logIn(
    creds: { user: string; password: string } | { token: string },
    o: { width?: number; javaScript?: boolean } = {},
  ): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: o.width ?? 1280, height: 900 },
      javaScriptEnabled: o.javaScript ?? true,
    });
    const page = await context.newPage();
    await page.goto(`${f.url}/candidates/${seeded.candidate}`);
    expect(await page.title()).toMatch(/Log in/);
    if ("token" in creds) await page.fill('input[name="token"]', creds.token);
    else {
      await page.fill('input[name="user"]', creds.user);
      await page.fill('input[name="password"]', creds.password);
    }
    // after the login, back to the page that was asked for
    await Promise.all([
      page.waitForURL(`${f.url}/candidates/${seeded.candidate}`),
      page.click('form[action="/login"] button[type="submit"]'),
    ]);
    return page;
  }

  it("logs in, reads the dashboard and a candidate with what was written there shown as text, logs out", async () => {
    const page = await logIn({ user: "alice", password: f.password("approver") });
    expect(await page.locator("h1").innerText()).toBe(`Candidate ${seeded.candidate}`);
    const main = await page.locator("main").innerText();
    expect(main).toContain(`security ${PAYLOAD}`); // the reason, as text
    expect(await page.locator("main img").count()).toBe(0);
    expect(await page.title()).not.toBe("pwned");
    expect(main).toMatch(/checks\s+✓ passed/);

    await page.click('nav a[href="/"]');
    const row = page.locator("table tbody tr", { hasText: "x86_64" }).first();
    const cells = await row.innerText();
    expect(cells).toContain("b".repeat(12)); // the published sha256, short
    expect(cells).toMatch(/1 high/);
    expect(cells).toMatch(/1 low/);
    expect(cells).toMatch(new RegExp(`#${seeded.candidate}\\s+● ready`));

    await page.click('nav form[action="/logout"] button');
    await page.waitForURL(`${f.url}/login`);
    await page.goto(`${f.url}/`);
    expect(await page.title()).toMatch(/Log in/);
  });

  it("a wrong password is refused on the form, and an API token logs in", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${f.url}/login`);
    await page.fill('input[name="user"]', "vera");
    await page.fill('input[name="password"]', "not her password at all");
    await page.click('form[action="/login"] button[type="submit"]');
    expect(await page.locator("main").innerText()).toMatch(/wrong user and password/);
    await context.close();
    const viewer = await logIn({ token: f.tokens.viewer });
    expect(await viewer.locator("nav").innerText()).toContain("vera (viewer)");
  });

  it("on a phone-sized screen with JavaScript off the dashboard reads as cards, nothing wider than the screen", async () => {
    const page = await logIn({ token: f.tokens.viewer }, { width: 390, javaScript: false });
    await page.goto(`${f.url}/`);
    expect(await page.locator("main").innerText()).toContain("x86_64");
    const box = await page.locator("table.dashboard").boundingBox();
    expect(box!.width).toBeLessThanOrEqual(390);
  });
});
