/**
 * A site for update-loop tests: a compat.yaml over a given store (SQLite or PostgreSQL) with the
 * dev layer, two local targets (`staging` needs no approval; `production` needs two, by alice and
 * bob, not by the requester), approvers' real ed25519 keys (and mallory's, whom the site does not
 * know), and candidates made from small real artifacts with the store's own functions.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { generateKeyPair } from "../../src/artifacts/sign.js";
import { loadSiteConfig, type SiteConfig } from "../../src/site/load.js";
import {
  type Candidate,
  createCandidate,
  setCandidateBuild,
  transitionCandidate,
} from "../../src/store/candidates.js";
import { finishGate, startGate } from "../../src/store/gates.js";
import type { StoreLocation } from "../../src/store/location.js";
import { finishRun, setRunDetail, startRun } from "../../src/store/runs.js";
import type { Store } from "../../src/store/store.js";
import { recordArtifactFile } from "../../src/update/artifact-files.js";
import { GATE_IDS } from "../../src/update/gates/registry.js";
import { openSiteLayerArch, registerSiteLayer } from "../../src/update/site-layer.js";
import { toDetail, updateDir } from "../../src/update/update-record.js";

const PROJECT = resolve(import.meta.dirname, "../..");
export const DEV_SPEC = join(PROJECT, "examples/dev.yaml");

export interface Keys {
  privateKey: string;
  publicKey: string;
}

export interface TestSite {
  dir: string;
  configFile: string;
  site: SiteConfig;
  keys: { alice: Keys; bob: Keys; mallory: Keys };
  staging: string;
  production: string;
}

export function storeUrl(location: StoreLocation): string {
  return location.backend === "sqlite" ? `sqlite:${location.path}` : location.url;
}

export async function makeTestSite(dir: string, location: StoreLocation, extraYaml = ""): Promise<TestSite> {
  mkdirSync(join(dir, "keys"), { recursive: true });
  const keys = {
    alice: await generateKeyPair(join(dir, "keys/alice")),
    bob: await generateKeyPair(join(dir, "keys/bob")),
    mallory: await generateKeyPair(join(dir, "keys/mallory")),
  };
  const staging = join(dir, "staging");
  const production = join(dir, "production");
  mkdirSync(staging, { recursive: true });
  mkdirSync(production, { recursive: true });
  const configFile = join(dir, "compat.yaml");
  writeFileSync(
    configFile,
    [
      "state: state",
      `store: ${JSON.stringify(storeUrl(location))}`,
      "layers:",
      `  dev: {spec: ${JSON.stringify(DEV_SPEC)}, arches: [x86_64]}`,
      "targets:",
      "  staging:",
      "    to: local:staging",
      "    policy: {approvals: 0}",
      "  production:",
      "    to: local:production",
      "    policy: {approvals: 2, requesterMayApprove: false, approvers: [alice, bob]}",
      "approvers:",
      "  alice: {key: keys/alice.pub}",
      "  bob: {key: keys/bob.pub}",
      extraYaml,
    ].join("\n"),
  );
  return { dir, configFile, site: await loadSiteConfig(configFile), keys, staging, production };
}

/**
 * A candidate of the dev layer whose full artifact is `full` and delta `delta` (over `base`, the
 * full artifact staging holds), with every gate of the registry recorded as `gates` says
 * (default: all passed; the delta gate's report names the delta, as the real gate's does).
 */
export async function seedCandidate(
  t: TestSite,
  store: Store,
  a: {
    full: string;
    delta?: string;
    baseSha256?: string;
    requestedBy?: string;
    gates?: Record<string, "passed" | "failed" | "error">;
  },
): Promise<Candidate> {
  const layer = await openSiteLayerArch(t.site, "dev", "x86_64");
  await registerSiteLayer(store, t.site, layer, "tester");
  const full = await recordArtifactFile(store, a.full, { layer: "dev", arch: "x86_64" });
  const delta = a.delta
    ? await recordArtifactFile(store, a.delta, { layer: "dev", arch: "x86_64" })
    : undefined;
  const run = await startRun(store, { kind: "update", layer: "dev", arch: "x86_64" });
  const record = {
    target: "staging",
    baseSha256: a.baseSha256 ?? null,
    dir: updateDir(t.site, "dev", "x86_64", run.id),
    buildRunId: null,
    phase: "gated" as const,
  };
  await setRunDetail(store, run.id, toDetail(record));
  await finishRun(store, run.id, { state: "succeeded", exitCode: 0 });
  const actor = a.requestedBy ?? "root";
  let c = await createCandidate(store, {
    layer: "dev",
    arch: "x86_64",
    target: "staging",
    ...(a.baseSha256 ? { baseSha256: a.baseSha256 } : {}),
    requestedBy: actor,
    runId: run.id,
  });
  c = await setCandidateBuild(store, c.id, {
    fullSha256: full.sha256,
    deltaSha256: delta?.sha256,
    packageDiff: { added: [], removed: [], upgraded: [], downgraded: [], unchanged: 0, database: "dpkg" },
    actor,
  });
  c = await transitionCandidate(store, c.id, "gating", { actor });
  const states = a.gates ?? {};
  for (const gate of GATE_IDS) {
    await startGate(store, c.id, gate, { actor });
    const state = states[gate] ?? "passed";
    await finishGate(store, c.id, gate, {
      state,
      report: {
        summary: `${gate} ${state} (recorded by the test)`,
        ...(gate === "delta" && delta ? { delta: { sha256: delta.sha256 } } : {}),
      },
      actor,
    });
  }
  const green = GATE_IDS.every((g) => (states[g] ?? "passed") === "passed");
  return transitionCandidate(store, c.id, green ? "ready" : "failed", { actor });
}
