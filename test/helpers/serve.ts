/**
 * A real `compat serve` for tests: the server of src/server started in this process on a free
 * port of 127.0.0.1 (real HTTP), over a fresh store (SQLite, or a database of a throwaway
 * PostgreSQL cluster), with a site config file in a temp dir and one user of each role, whose
 * API tokens the test gets. Seeding helpers fill the store with a layer, a publication, a
 * candidate with gates, findings and an audit trail through the store's own functions.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addUser } from "../../src/accounts/index.js";
import type { Role } from "../../src/accounts/roles.js";
import { buildProgram } from "../../src/cli/main.js";
import { type RunningServer, type ServeOptions, startServer } from "../../src/server/serve.js";
import { loadSiteConfig } from "../../src/site/load.js";
import { recordArtifact } from "../../src/store/artifacts.js";
import { createCandidate, setCandidateBuild, transitionCandidate } from "../../src/store/candidates.js";
import { observeFindings } from "../../src/store/findings.js";
import { finishGate, startGate } from "../../src/store/gates.js";
import { registerLayer } from "../../src/store/layers.js";
import type { StoreLocation } from "../../src/store/location.js";
import { recordPublication } from "../../src/store/publications.js";
import type { Store } from "../../src/store/store.js";
import { compatBin } from "./cli.js";

export const ROLE_USERS: Record<Role, string> = {
  viewer: "vera",
  maintainer: "max",
  approver: "alice",
  admin: "root1",
};

export interface ServerFixture {
  server: RunningServer;
  url: string;
  store: Store;
  dir: string;
  /** A bearer token per role's user. */
  tokens: Record<Role, string>;
  /** A bearer token per user name (the role users and moreUsers). */
  userTokens: Record<string, string>;
  /** Passwords (every role's user has one: `pw-<name>-long-enough`). */
  password(role: Role): string;
  stop(): Promise<void>;
}

export interface ServerFixtureOptions {
  /** The store (written into the compat.yaml the fixture makes). */
  location: StoreLocation;
  /** A compat.yaml to serve instead of the one the fixture makes (its store is used). */
  configFile?: string;
  /** Approvers' private keys by user name (`compat user add --approver-key`). */
  approverKeys?: Record<string, string>;
  /** More users: name → roles. */
  moreUsers?: Record<string, Role[]>;
  /** Extra YAML for compat.yaml (layers, targets, approvers). */
  siteYaml?: string;
  /** Files to write beside compat.yaml first (relative name → content). */
  files?: Record<string, string>;
  serve?: Partial<ServeOptions>;
}

const storeLine = (l: StoreLocation) => (l.backend === "sqlite" ? `sqlite:${l.path}` : l.url);

export async function startServerFixture(o: ServerFixtureOptions): Promise<ServerFixture> {
  const dir = mkdtempSync(join(tmpdir(), "compat-serve-"));
  for (const [name, content] of Object.entries(o.files ?? {})) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  let file = o.configFile;
  if (file === undefined) {
    file = join(dir, "compat.yaml");
    writeFileSync(file, `store: ${JSON.stringify(storeLine(o.location))}\n${o.siteYaml ?? ""}`);
  }
  const site = await loadSiteConfig(file);
  const server = await startServer({
    site,
    commands: buildProgram().commands,
    host: "127.0.0.1",
    port: 0,
    shutdownGraceMs: 5_000,
    compat: [process.execPath, compatBin],
    ...o.serve,
  });
  const store = server.ctx.store;
  const tokens = {} as Record<Role, string>;
  const password = (role: Role) => `pw-${ROLE_USERS[role]}-long-enough`;
  const userTokens: Record<string, string> = {};
  const users: [string, Role[], string | undefined][] = [
    ...(Object.entries(ROLE_USERS) as [Role, string][]).map(
      ([role, name]) => [name, [role], password(role)] as [string, Role[], string],
    ),
    ...Object.entries(o.moreUsers ?? {}).map(
      ([name, roles]) => [name, roles, undefined] as [string, Role[], undefined],
    ),
  ];
  for (const [name, roles, pw] of users) {
    const r = await addUser(
      store,
      { name, roles, password: pw, approverKey: o.approverKeys?.[name] },
      "test-setup",
    );
    userTokens[name] = r.token.token;
  }
  for (const [role, name] of Object.entries(ROLE_USERS) as [Role, string][]) tokens[role] = userTokens[name]!;
  return {
    server,
    url: server.url,
    store,
    dir,
    tokens,
    userTokens,
    password,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const hex = (c: string) => c.repeat(64);

export interface Seeded {
  candidate: number;
  publication: number;
}

/**
 * A layer `dev` (x86_64) published to `staging`, a ready candidate with four passed gates and a
 * package diff, two open findings and one resolved; every text a user or an advisory can write
 * holds `payload` (to prove it is rendered inert).
 */
export async function seedStore(store: Store, payload = "plain"): Promise<Seeded> {
  await registerLayer(
    store,
    {
      name: "dev",
      specPath: "/nowhere/dev.yaml",
      specSha256: hex("a"),
      flavor: "debian",
      stack: "dev",
      version: "2025.06",
      arches: ["x86_64"],
    },
    "test-setup",
  );
  const manifest = { files: 3, payload };
  await recordArtifact(store, {
    sha256: hex("b"),
    kind: "full",
    path: "/nowhere/dev-2025.06-compat-linux-x86_64-1.tar.zst",
    size: 1000,
    manifest,
    manifestSha256: hex("c"),
    layer: "dev",
    arch: "x86_64",
  });
  const pub = await recordPublication(store, {
    target: "staging",
    layer: "2025.06/compat/linux/x86_64",
    action: "publish",
    kind: "full",
    sha256: hex("b"),
    artifact: "/nowhere/dev-2025.06-compat-linux-x86_64-1.tar.zst",
    user: "test-setup",
    host: "localhost",
  });
  await recordArtifact(store, {
    sha256: hex("d"),
    kind: "full",
    path: "/nowhere/dev-2025.06-compat-linux-x86_64-2.tar.zst",
    size: 1100,
    manifest,
    manifestSha256: hex("e"),
    layer: "dev",
    arch: "x86_64",
  });
  const c = await createCandidate(store, {
    layer: "dev",
    arch: "x86_64",
    target: "staging",
    basePublicationId: pub.id,
    baseSha256: hex("b"),
    reason: `security ${payload}`,
    requestedBy: "max",
  });
  await setCandidateBuild(store, c.id, {
    fullSha256: hex("d"),
    packageDiff: { changed: [{ name: `openssl${payload}`, from: "3.0.11-1", to: "3.0.15-1" }] },
    actor: "max",
  });
  await transitionCandidate(store, c.id, "gating", { actor: "max" });
  for (const gate of ["checks", "audit", "impact", "delta"]) {
    await startGate(store, c.id, gate, { actor: "max" });
    await finishGate(store, c.id, gate, {
      state: "passed",
      report: { summary: `${gate} ok ${payload}` },
      actor: "max",
    });
  }
  await transitionCandidate(store, c.id, "ready", { actor: "max" });
  const scope = { target: "staging", layer: "dev", arch: "x86_64", source: "glsa" };
  await observeFindings(store, scope, [
    {
      advisoryId: "GLSA-202401-01",
      package: "dev-libs/openssl",
      installed: "3.0.11",
      fix: ">=dev-libs/openssl-3.0.15",
      cves: ["CVE-2024-0001"],
      severity: "high",
      title: `openssl: several ${payload}`,
    },
    {
      advisoryId: "GLSA-202401-02",
      package: "sys-libs/zlib",
      installed: "1.2.13",
      cves: [],
      severity: "low",
      title: "zlib",
    },
  ]);
  return { candidate: c.id, publication: pub.id };
}
