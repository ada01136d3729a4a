/**
 * The dashboard's per-second copies (ages as of a second) are not kept for every second the
 * store stays quiet: only the current second's copy is, so memory does not grow with time
 * (review of integ4: ~240 KB a second for the bench's 100 layers, up to the cache's 2,000 entries).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ReadCache } from "../../src/server/read-cache.js";
import { currentDashboard } from "../../src/server/read-model.js";
import { loadSiteConfig } from "../../src/site/load.js";
import { useStores } from "../helpers/stores.js";

describe("the dashboard on a quiet store", () => {
  const stores = useStores("sqlite");
  afterEach(() => vi.restoreAllMocks());

  it("keeps one aged copy, the same object within a second", async () => {
    const { store, location } = await stores.fresh();
    const dir = mkdtempSync(join(tmpdir(), "compat-dashboard-aged-"));
    const path = (location as { path: string }).path;
    writeFileSync(
      join(dir, "compat.yaml"),
      `store: ${JSON.stringify(`sqlite:${path}`)}\ntargets:\n  staging: {to: local:staging, policy: {approvals: 0}}\n`,
    );
    const site = await loadSiteConfig(join(dir, "compat.yaml"));
    const reads = new ReadCache(store);
    const src = { site, store, siteLayers: new Map(), reads };
    let now = 1_750_000_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => now);
    const revision = await reads.revision();
    const first = await currentDashboard(src, revision);
    expect(await currentDashboard(src, revision)).toBe(first);
    for (let i = 0; i < 50; i++) {
      now += 1000;
      await currentDashboard(src, await reads.revision());
    }
    // the dashboard read once, and no copy per past second
    expect(reads.size).toBe(1);
  });
});
