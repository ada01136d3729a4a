/**
 * A separate process that appends to a store's audit log, for tests and bench/store of concurrent
 * writers: `node --import tsx audit-appender.ts LOCATION_JSON COUNT NAME [OTHER…]`. It opens (and so
 * may migrate) the store, prints `ready`, waits for a line on stdin, appends COUNT rows, and prints
 * `{"appended":N,"ms":T}`. Given the names of the OTHER writers it goes on appending until it has
 * seen a row of each of them, and then appends one more, so the writers' rows interleave however the machine schedules them
 * (a loaded machine may otherwise run one writer to its end before the next starts).
 */
import { createInterface } from "node:readline";
import { appendAudit } from "../../src/store/audit.js";
import type { StoreLocation } from "../../src/store/location.js";
import { openStore } from "../../src/store/open.js";

const [locationJson, countText, name, ...others] = process.argv.slice(2);
/** An upper bound, so that a writer whose peers died does not append forever. */
const MAX_ROWS = 100_000;
const location = JSON.parse(locationJson!) as StoreLocation;
const count = Number(countText);
const store = await openStore(location, { actor: name });
process.stdout.write("ready\n");
await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once("line", () => resolve()));
const start = performance.now();
const othersSeen = async () => {
  if (others.length === 0) return true;
  const rows = await store.db
    .selectFrom("audit_log")
    .select("subject")
    .distinct()
    .where(
      "subject",
      "in",
      others.map((o) => `writer:${o}`),
    )
    .execute();
  return rows.length === others.length;
};
let appended = 0;
// The check comes before the append: a writer's last row is written after it saw a row of every
// other writer, so each writer's last row follows each other's first (a writer that stopped as
// soon as it saw the others could have written its last row before their first).
while (appended < MAX_ROWS && (appended < count || others.length > 0)) {
  const done = appended >= count && (await othersSeen());
  await appendAudit(store, {
    actor: name!,
    action: "test.append",
    subject: `writer:${name}`,
    detail: { i: appended },
  });
  appended++;
  if (done) break;
}
const ms = performance.now() - start;
await store.close();
process.stdout.write(`${JSON.stringify({ appended, ms })}\n`);
