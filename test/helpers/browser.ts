/**
 * Debian's headless Chromium (installed by scripts/deps.sh), driven by playwright-core, which
 * downloads no browser of its own. One browser per test file; each test takes a fresh context
 * (its own cookies). Closing waits for the browser to exit.
 * Recipe: ../shared/reference/test-infrastructure.md ("A web UI in a real browser").
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { projectRoot } from "./cli.js";

export const CHROMIUM = "/usr/bin/chromium";

/** Screenshots are test artifacts (reports/ is CI's artifact directory). */
export const SCREENSHOTS = join(projectRoot, "reports/screenshots");

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/deps.sh`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ["--disable-dev-shm-usage"] });
}
