/**
 * `npx tsx bench/store.ts [ROWS]`: the store's audit log on SQLite and on a throwaway PostgreSQL.
 *   - append: hash-chained appends, one process, one transaction each (lock, read the head, insert);
 *     the peer is a plain INSERT of the same row through the same driver, one commit each, in the
 *     same run: the ratio is what the chain and its locking cost;
 *   - two writers: two processes appending at once (the chain must stay one);
 *   - verify: `compat log --verify` as a whole process over the log, with its peak RSS.
 * Needs `npm run build` (for the CLI) and Debian's postgresql (scripts/deps.sh).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { appendAudit, verifyAuditLog } from "../src/store/audit.js";
import type { StoreLocation } from "../src/store/location.js";
import { openStore } from "../src/store/open.js";
import { concurrentAppends } from "../test/helpers/audit-writers.js";
import { startPostgres } from "../test/helpers/postgres.js";
import { compatBin, measure } from "./common.js";

const rows = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), "compat-bench-store-"));
const cluster = await startPostgres();

const detail = { candidate: 12, artifactSha256: "a".repeat(64), reason: "gates green" };

async function appendRate(location: StoreLocation): Promise<number> {
  const store = await openStore(location, { actor: "bench" });
  const start = performance.now();
  for (let i = 0; i < rows; i++)
    await appendAudit(store, { actor: "bench", action: "bench.append", subject: `candidate:${i}`, detail });
  const seconds = (performance.now() - start) / 1000;
  await store.close();
  return rows / seconds;
}

const PLAIN =
  "insert into plain_log (seq, at, actor, action, subject, detail, prev_sha256, sha256) values (?, ?, ?, ?, ?, ?, ?, ?)";
const PLAIN_TABLE =
  "create table plain_log (seq integer primary key, at text, actor text, action text, subject text, detail text, prev_sha256 text, sha256 text)";

/** The same rows as plain INSERTs, one commit each: the floor an append cannot beat. */
async function plainRate(location: StoreLocation): Promise<number> {
  const row = (i: number) => [
    i,
    new Date().toISOString(),
    "bench",
    "bench.append",
    `candidate:${i}`,
    JSON.stringify(detail),
    "0".repeat(64),
    i.toString(16).padStart(64, "0"),
  ];
  if (location.backend === "sqlite") {
    const db = new Database(location.path);
    db.pragma("journal_mode = WAL");
    db.exec(PLAIN_TABLE);
    const insert = db.prepare(PLAIN);
    const start = performance.now();
    for (let i = 1; i <= rows; i++) insert.run(...row(i));
    const seconds = (performance.now() - start) / 1000;
    db.close();
    return rows / seconds;
  }
  const client = new pg.Client({ connectionString: location.url });
  await client.connect();
  await client.query(PLAIN_TABLE);
  let n = 0;
  const text = PLAIN.replace(/\?/g, () => `$${++n}`);
  const start = performance.now();
  for (let i = 1; i <= rows; i++) await client.query(text, row(i));
  const seconds = (performance.now() - start) / 1000;
  await client.end();
  return rows / seconds;
}

function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(44)} ${value}\n`);
}

try {
  process.stdout.write(`audit log, ${rows} rows per figure (2 cores)\n`);
  for (const backend of ["sqlite", "postgres"] as const) {
    const loc = async (name: string): Promise<StoreLocation> =>
      backend === "sqlite"
        ? { backend, path: join(dir, `${name}.db`) }
        : { backend, url: await cluster.createDatabase(name) };
    const main = await loc("append");
    const append = await appendRate(main);
    const plain = await plainRate(await loc("plain"));
    line(`${backend}: append, one process`, `${append.toFixed(0)} rows/s`);
    line(
      `${backend}: plain INSERT, one process (peer)`,
      `${plain.toFixed(0)} rows/s  (append/plain ${(append / plain).toFixed(2)})`,
    );

    const both = await loc("writers");
    const start = performance.now();
    const results = await concurrentAppends(both, 2, rows / 2);
    const seconds = (performance.now() - start) / 1000;
    if (results.some((r) => r.status !== 0)) throw new Error(results.map((r) => r.stderr).join("\n"));
    const store = await openStore(both);
    const verified = await verifyAuditLog(store);
    await store.close();
    if (!verified.ok || verified.rows !== rows + 1)
      throw new Error(`chain broken: ${JSON.stringify(verified)}`);
    line(
      `${backend}: append, two processes at once`,
      `${(rows / seconds).toFixed(0)} rows/s in all, chain intact`,
    );

    const config = join(dir, `${backend}.yaml`);
    writeFileSync(config, `store: '${main.backend === "sqlite" ? main.path : main.url}'\n`);
    const v = measure([process.execPath, compatBin, "log", "--verify", "--config", config]);
    line(
      `${backend}: compat log --verify (${rows + 1} rows)`,
      `${v.seconds.toFixed(2)} s whole process, peak RSS ${v.peakRssMiB.toFixed(0)} MiB`,
    );
  }
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
