/** A store that cannot be opened is a StoreError (exit 4) naming it, never its password, and is left as it was. */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreError } from "../../src/store/errors.js";
import type { StoreLocation } from "../../src/store/location.js";
import { openStore } from "../../src/store/open.js";
import { type PostgresCluster, startPostgres } from "../helpers/postgres.js";
import { tamper } from "../helpers/stores.js";

const root = mkdtempSync(join(tmpdir(), "compat-store-open-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function openFailure(location: StoreLocation): Promise<StoreError> {
  const e = await openStore(location, { connectTimeoutMs: 3000 }).then(
    async (s) => {
      await s.close();
      throw new Error("the store opened");
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StoreError);
  expect((e as StoreError).exitCode).toBe(4);
  return e as StoreError;
}

const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("opening a SQLite store", () => {
  it("refuses a file that is not a database, and leaves it as it was", async () => {
    const path = join(root, "corrupt.db");
    writeFileSync(path, Buffer.alloc(8192, 0x5a));
    const before = digest(path);
    const e = await openFailure({ backend: "sqlite", path });
    expect(e.message).toBe(`cannot open the store sqlite:${path}: file is not a database`);
    expect(e.hint).toMatch(/not a SQLite database, or it is damaged/);
    expect(digest(path)).toBe(before);
  });

  it("refuses a SQLite file whose pages were damaged after its header", async () => {
    const path = join(root, "damaged.db");
    const s = await openStore({ backend: "sqlite", path });
    await s.close();
    const bytes = readFileSync(path);
    bytes.fill(0xff, 4096); // every page after the first
    writeFileSync(path, bytes);
    const e = await openFailure({ backend: "sqlite", path });
    expect(e.message).toMatch(/cannot open the store sqlite:.*damaged\.db: .*(malformed|not a database)/);
  });

  it("refuses a directory", async () => {
    const path = join(root, "a-directory");
    mkdirSync(path);
    const e = await openFailure({ backend: "sqlite", path });
    expect(e.message).toMatch(/it is a directory, not a SQLite file/);
  });

  it("refuses a FIFO and a device instead of hanging on them", async () => {
    const fifo = join(root, "fifo");
    execFileSync("mkfifo", [fifo]);
    expect((await openFailure({ backend: "sqlite", path: fifo })).message).toMatch(
      /it is a FIFO, not a SQLite file/,
    );
    expect((await openFailure({ backend: "sqlite", path: "/dev/null" })).message).toMatch(
      /it is a special file, not a SQLite file/,
    );
  });

  it("refuses a path under a file", async () => {
    writeFileSync(join(root, "plain"), "x");
    const e = await openFailure({ backend: "sqlite", path: join(root, "plain", "compat.db") });
    expect(e.message).toMatch(/cannot create .*plain \((ENOTDIR|EEXIST)\)/);
  });

  it("leaves another program's SQLite database untouched", async () => {
    const path = join(root, "other.db");
    const db = new Database(path);
    db.exec(
      "create table events (id integer primary key, what text); insert into events (what) values ('x')",
    );
    db.close();
    const before = digest(path);
    const e = await openFailure({ backend: "sqlite", path });
    expect(e.message).toMatch(
      /is a database but not a compat store \(it has the tables events\): compat leaves it as it is/,
    );
    expect(digest(path)).toBe(before);
  });

  it("refuses a store a newer compat migrated", async () => {
    const path = join(root, "newer.db");
    (await openStore({ backend: "sqlite", path })).close();
    await tamper(
      { backend: "sqlite", path },
      "insert into kysely_migration (name, timestamp) values ('9999-from-the-future', 'x')",
    );
    const e = await openFailure({ backend: "sqlite", path });
    expect(e.message).toMatch(
      /was migrated by a newer compat \(migration 9999-from-the-future is unknown to this one\)/,
    );
  });
});

describe("opening a PostgreSQL store", () => {
  let cluster: PostgresCluster;
  let url = "";
  beforeAll(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase("opentest");
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("opens with the right password", async () => {
    const store = await openStore({ backend: "postgres", url });
    expect(store.description).toBe(`postgres://opentest_owner:***@127.0.0.1:${cluster.port}/opentest`);
    await store.close();
  });

  it("says the password was refused, without showing it", async () => {
    const wrong = url.replace("pw-opentest", "hunter2-wrong");
    const e = await openFailure({ backend: "postgres", url: wrong });
    expect(e.message).toBe(
      `cannot open the store postgres://opentest_owner:***@127.0.0.1:${cluster.port}/opentest: password authentication failed for user "opentest_owner"`,
    );
    expect(`${e.message}${e.hint}${e.details.join("")}`).not.toContain("hunter2");
  });

  it("says so when no password is given at all", async () => {
    const e = await openFailure({ backend: "postgres", url: url.replace(":pw-opentest@", "@") });
    expect(e.hint).toMatch(/PGPASSWORD|password/);
  });

  it("says the database does not exist", async () => {
    const e = await openFailure({ backend: "postgres", url: url.replace(/\/opentest$/, "/nosuchdb") });
    expect(e.message).toMatch(/database "nosuchdb" does not exist/);
    expect(e.hint).toMatch(/createdb/);
  });

  it("says nothing listens where the URL points", async () => {
    const { createServer } = await import("node:net");
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const e = await openFailure({ backend: "postgres", url: `postgres://u:secret@127.0.0.1:${port}/db` });
    expect(e.message).toBe(
      `cannot open the store postgres://u:***@127.0.0.1:${port}/db: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(e.hint).toMatch(/is PostgreSQL running/);
  });

  it("leaves another program's database untouched", async () => {
    const other = await cluster.createDatabase("otherapp");
    await tamper({ backend: "postgres", url: other }, "create table invoices (id integer primary key)");
    const e = await openFailure({ backend: "postgres", url: other });
    expect(e.message).toMatch(/not a compat store \(it has the tables invoices\)/);
  });
});
