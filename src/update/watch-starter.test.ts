import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSiteConfig } from "../site/load.js";
import type { Store } from "../store/store.js";
import { policyBuildOutcome, updateStarter } from "./watch-starter.js";

const DEV_SPEC = resolve("examples/dev.yaml");
const request = {
  layer: "dev",
  arch: "x86_64",
  target: "local",
  packages: ["libc6"],
  reason: "DSA-1 (high)",
  findings: [{ source: "debian-security", id: "DSA-1" }],
};
// the remote path never touches the store: a store that throws proves no local update started
const noStore = new Proxy(
  {},
  { get: () => expect.unreachable("the local store was used") },
) as unknown as Store;

async function siteWith(executor: string) {
  const dir = mkdtempSync(join(tmpdir(), "compat-watch-starter-"));
  const file = join(dir, "compat.yaml");
  writeFileSync(
    file,
    `state: state\nlayers:\n  dev:\n    spec: ${DEV_SPEC}\nexecutors:\n  x86_64:\n${executor}`,
  );
  return loadSiteConfig(file);
}

describe("the watch's policy build on the arch's executor", () => {
  it("an ssh executor without the build host's site config is refused, naming the field", async () => {
    const site = await siteWith("    on: ssh:localhost\n");
    await expect(updateStarter(site, noStore)(request)).rejects.toThrow(
      /executors\.x86_64: the update needs the site config's path on the build host/,
    );
  });

  it("with one, the update goes to the build host (here one nothing listens on), not to this host", async () => {
    const site = await siteWith("    on: ssh:127.0.0.1:1\n    config: /srv/compat/compat.yaml\n");
    await expect(updateStarter(site, noStore)(request)).rejects.toThrow(/ssh:127\.0\.0\.1:1/);
  }, 60_000);
});

describe("a build host's update result, checked before the watch report takes it", () => {
  it("takes a candidate with a candidate's state, and an unchanged layer", () => {
    expect(policyBuildOutcome({ candidate: { id: 7, state: "ready" } }, "ssh:b")).toEqual({
      candidate: 7,
      state: "ready",
    });
    expect(policyBuildOutcome({ unchanged: true, message: "x" }, "ssh:b")).toEqual({ candidate: null });
  });

  it("refuses a state that is not a candidate's (control characters, huge text) and an id that is not one", () => {
    const bad = [
      { candidate: { id: 7, state: "\u001b]52;c;AAAA\u0007ready" } },
      { candidate: { id: 7, state: "x".repeat(100_000) } },
      { candidate: { id: 7, state: { toString: "ready" } } },
      { candidate: { id: 7 } },
    ];
    for (const b of bad) expect(() => policyBuildOutcome(b, "ssh:b")).toThrow(/which is not a candidate's/);
    for (const id of ["7", 0, -1, 1.5, 2 ** 60])
      expect(() => policyBuildOutcome({ candidate: { id, state: "ready" } }, "ssh:b")).toThrow(
        /names no candidate/,
      );
    expect(() => policyBuildOutcome(null, "ssh:b")).toThrow(/names no candidate/);
  });
});
