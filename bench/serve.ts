/**
 * `npx tsx bench/serve.ts [SECONDS]`: `compat serve` (the built CLI, its own process) over a store
 * holding 100 layers, 1,000 candidates (each with its four gates) and 100,000 findings, on SQLite
 * and on a throwaway PostgreSQL. Each is loaded by autocannon from this process (10 connections,
 * SECONDS each, default 10):
 *   - the dashboard page (every layer × arch, what each target holds, findings by severity, the
 *     pending candidates): p50, p95, requests/s; target p95 ≤ 50 ms;
 *   - API reads (the candidate list, one candidate, filtered findings, a layer): requests/s;
 *     target ≥ 1,000;
 *   - both again while another process (this one, on its own connection) commits a write every
 *     100 ms (a watch marking findings seen): every write changes the store's revision, so the
 *     server reads and serialises again what it kept (see src/server/read-cache.ts);
 *   - the peer, in the same run: a bare node:http server answering the same dashboard bytes from
 *     memory, the floor for this machine and client; the ratio is what compat's work costs.
 * Needs `npm run build` and Debian's postgresql (scripts/deps.sh).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addUser } from "../src/accounts/index.js";
import type { StoreLocation } from "../src/store/location.js";
import { openStore } from "../src/store/open.js";
import type { Store } from "../src/store/store.js";
import { runLoad } from "../test/helpers/load.js";
import { startPostgres } from "../test/helpers/postgres.js";
import { startServe } from "../test/helpers/serve-process.js";
import { CANDIDATES_PER_LAYER, FINDINGS_PER_LAYER, LAYERS, populate } from "./serve-store.js";

const seconds = Number(process.argv[2] ?? 10);
const dir = mkdtempSync(join(tmpdir(), "compat-bench-serve-"));
const cluster = await startPostgres();

function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(48)} ${value}\n`);
}

const fmt = (r: Awaited<ReturnType<typeof runLoad>>) =>
  `p50 ${r.p50Ms.toFixed(1)} ms  p95 ${r.p95Ms.toFixed(1)} ms  ${r.requestsPerSecond.toFixed(0)} req/s${r.errors ? `  ERRORS ${JSON.stringify(r.errorKinds)}` : ""}`;

async function bench(name: string, location: StoreLocation, storeLine: string) {
  const store = await openStore(location, { actor: "bench" });
  const t0 = performance.now();
  const candidate = await populate(store);
  const token = (await addUser(store, { name: "bench", roles: ["viewer"] }, "bench")).token.token;
  line(`${name}: store filled`, `${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const site = join(dir, name);
  rmSync(site, { recursive: true, force: true });
  const { mkdirSync } = await import("node:fs");
  mkdirSync(site, { recursive: true });
  writeFileSync(
    join(site, "compat.yaml"),
    `store: ${JSON.stringify(storeLine)}\ntargets:\n  staging: {to: local:staging, policy: {approvals: 0}}\n  production: {to: local:production, policy: {approvals: 0}}\n`,
  );
  let server: Awaited<ReturnType<typeof startServe>>;
  try {
    server = await startServe(["--config", join(site, "compat.yaml")], site);
  } catch (e) {
    await store.close();
    throw e;
  }
  const headers = { authorization: `Bearer ${token}` };
  try {
    await runLoad({ base: server.url, paths: ["/"], headers, connections: 10, durationMs: 2000 }); // warm-up
    const page = await runLoad({
      base: server.url,
      paths: ["/"],
      headers,
      connections: 10,
      durationMs: seconds * 1000,
    });
    line(`${name}: dashboard page (100 layers)`, fmt(page));
    const apiPaths = [
      "/api/v1/candidates?limit=50",
      `/api/v1/candidates/${candidate + 7}`,
      "/api/v1/findings?layer=layer42&severity=high&limit=50",
      "/api/v1/layers/layer7",
    ];
    const api = await runLoad({
      base: server.url,
      paths: apiPaths,
      headers,
      connections: 10,
      durationMs: seconds * 1000,
    });
    line(`${name}: API reads`, fmt(api));
    const writing = await whileWriting(store, () =>
      runLoad({ base: server.url, paths: ["/"], headers, connections: 10, durationMs: seconds * 1000 }),
    );
    line(`${name}: dashboard page, a write every 100 ms`, `${fmt(writing.r)}  (${writing.writes} writes)`);
    const apiWriting = await whileWriting(store, () =>
      runLoad({ base: server.url, paths: apiPaths, headers, connections: 10, durationMs: seconds * 1000 }),
    );
    line(`${name}: API reads, a write every 100 ms`, `${fmt(apiWriting.r)}  (${apiWriting.writes} writes)`);
    const bytes = await (await fetch(`${server.url}/`, { headers })).arrayBuffer();
    return { page, api, bytes: Buffer.from(bytes) };
  } finally {
    server.child.kill("SIGTERM");
    await server.exited;
    await store.close();
  }
}

/** `load` while this process commits a write every 100 ms: a finding seen again, as a watch marks it. */
async function whileWriting<T>(store: Store, load: () => Promise<T>): Promise<{ r: T; writes: number }> {
  let writes = 0;
  let failed: unknown;
  let pending: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    pending = store.db
      .updateTable("findings")
      .set({ last_seen: new Date().toISOString() })
      .where("id", "=", 1 + (writes % 1000))
      .execute()
      .then(
        () => writes++,
        (e) => (failed = e),
      );
  }, 100);
  const r = await load().finally(() => clearInterval(timer));
  await pending;
  if (failed) throw failed;
  return { r, writes };
}

/** The peer: the same dashboard bytes from memory through bare node:http. */
async function peer(body: Buffer) {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const r = await runLoad({
    base: `http://127.0.0.1:${port}`,
    paths: ["/"],
    connections: 10,
    durationMs: seconds * 1000,
  });
  server.close();
  return r;
}

try {
  process.stdout.write(
    `compat serve: ${LAYERS} layers, ${LAYERS * CANDIDATES_PER_LAYER} candidates, ${LAYERS * FINDINGS_PER_LAYER} findings; 10 connections, ${seconds} s each\n`,
  );
  const sqlitePath = join(dir, "sqlite.db");
  const s = await bench("sqlite", { backend: "sqlite", path: sqlitePath }, `sqlite:${sqlitePath}`);
  const url = await cluster.createDatabase("bench_serve");
  const p = await bench("postgres", { backend: "postgres", url }, url);
  const floor = await peer(s.bytes);
  line("peer: node:http, the same bytes from memory", fmt(floor));
  for (const [n, r] of [
    ["sqlite", s],
    ["postgres", p],
  ] as const) {
    line(
      `${n}: dashboard p95 vs target 50 ms`,
      `${r.page.p95Ms.toFixed(1)} ms (${r.page.p95Ms <= 50 ? "met" : "MISSED"}); ${(floor.requestsPerSecond / r.page.requestsPerSecond).toFixed(1)}× slower than the peer`,
    );
    line(
      `${n}: API reads vs target 1,000 req/s`,
      `${r.api.requestsPerSecond.toFixed(0)} req/s (${r.api.requestsPerSecond >= 1000 ? "met" : "MISSED"})`,
    );
  }
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
