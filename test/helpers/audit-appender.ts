/**
 * A separate process that appends to a store's audit log, for tests and bench/store of concurrent
 * writers: `node --import tsx audit-appender.ts LOCATION_JSON COUNT NAME`. It opens (and so may
 * migrate) the store, prints `ready`, waits for a line on stdin, appends COUNT rows, and prints
 * `{"appended":N,"ms":T}`.
 */
import { createInterface } from "node:readline";
import { appendAudit } from "../../src/store/audit.js";
import type { StoreLocation } from "../../src/store/location.js";
import { openStore } from "../../src/store/open.js";

const [locationJson, countText, name] = process.argv.slice(2);
const location = JSON.parse(locationJson!) as StoreLocation;
const count = Number(countText);
const store = await openStore(location, { actor: name });
process.stdout.write("ready\n");
await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once("line", () => resolve()));
const start = performance.now();
for (let i = 0; i < count; i++)
  await appendAudit(store, { actor: name!, action: "test.append", subject: `writer:${name}`, detail: { i } });
const ms = performance.now() - start;
await store.close();
process.stdout.write(`${JSON.stringify({ appended: count, ms })}\n`);
