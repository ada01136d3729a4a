/**
 * A throwaway PostgreSQL cluster for tests (Debian's `postgresql`, installed by scripts/deps.sh):
 * initdb in a temp dir, the postmaster in the foreground as a child of the test process (as the
 * `postgres` user when the tests run as root, since initdb refuses root), listening on 127.0.0.1
 * only on a free port, scram-sha-256 passwords, fsync off. A database per test file; `stop()`
 * ends the server and checks that no process of it is left.
 *
 * Recipe measured in ../shared/reference/test-infrastructure.md ("PostgreSQL").
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./free-port.js";

const SUPERUSER_PASSWORD = "compat-test-superuser";

export interface PostgresCluster {
  port: number;
  /** `postgres://postgres:…@127.0.0.1:PORT/DB` */
  superuserUrl(database?: string): string;
  /** A new database owned by a new login role; returns its URL (with the role's password). */
  createDatabase(name: string): Promise<string>;
  /** Stop the server (fast shutdown, then SIGKILL), remove its directory; throws if a process is left. */
  stop(): Promise<void>;
  /** The postmaster's pid, for tests of the helper itself. */
  pid: number;
}

/** The newest PostgreSQL server binaries Debian installed (not on PATH). */
export function postgresBinDir(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "postgres")))
    .sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  return newest === undefined ? undefined : join(base, newest, "bin");
}

const isRoot = () => process.getuid?.() === 0;

/** argv prefix that runs a program as `postgres` when we are root (initdb and the server refuse root). */
function asPostgres(argv: string[]): string[] {
  return isRoot()
    ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", ...argv]
    : argv;
}

/** Alive and not a zombie (a stopped daemon can linger as a zombie until reaped). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Pids of the processes whose command line names `dataDir` (the postmaster and its children). */
function processesOf(dataDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(dataDir) && processAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

async function waitReady(url: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}):\n${readLog(log)}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("select 1");
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline)
      throw new Error(`postgres did not accept connections within 30 s:\n${readLog(log)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const readLog = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").slice(-2000) : "(no log)");

/** Start a cluster; retries on a port another process took between choosing and binding it. */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed: run scripts/deps.sh (Debian's postgresql)");
  const dir = mkdtempSync(join(tmpdir(), "compat-pgtest-"));
  const dataDir = join(dir, "data");
  const log = join(dir, "server.log");
  const pwfile = join(dir, "su.pw");
  writeFileSync(pwfile, `${SUPERUSER_PASSWORD}\n`, { mode: 0o600 });
  if (isRoot()) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o700);
  const [initdb, ...initArgs] = asPostgres([
    join(bin, "initdb"),
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth=scram-sha-256",
    `--pwfile=${pwfile}`,
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
    "--no-sync",
  ]);
  // cwd: the server's user must be able to enter it
  execFileSync(initdb!, initArgs, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  rmSync(pwfile);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const [cmd, ...args] = asPostgres([
      join(bin, "postgres"),
      "-D",
      dataDir,
      "-c",
      "listen_addresses=127.0.0.1",
      "-p",
      String(port),
      "-k",
      dir,
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
    ]);
    const out = openSync(log, "a");
    // setpriv execs postgres in place: the child's pid is the postmaster's
    const child = spawn(cmd!, args, { cwd: dir, stdio: ["ignore", out, out] });
    closeSync(out);
    const superuserUrl = (database = "postgres") =>
      `postgres://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/${database}`;
    // a test worker that dies without stop() must not leave a server behind
    const killOnExit = () => {
      child.kill("SIGKILL");
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort while the process is being torn down */
      }
    };
    process.once("exit", killOnExit);
    try {
      await waitReady(superuserUrl(), child, log);
    } catch (e) {
      process.off("exit", killOnExit);
      child.kill("SIGKILL");
      if (attempt < 3 && /could not bind|Address already in use/.test(readLog(log))) continue;
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
    return {
      port,
      pid: child.pid!,
      superuserUrl,
      async createDatabase(name) {
        const role = `${name}_owner`;
        const password = `pw-${name}`;
        const client = new pg.Client({ connectionString: superuserUrl() });
        await client.connect();
        try {
          await client.query(
            `CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`,
          );
          await client.query(
            `CREATE DATABASE ${pg.escapeIdentifier(name)} OWNER ${pg.escapeIdentifier(role)}`,
          );
        } finally {
          await client.end();
        }
        return `postgres://${encodeURIComponent(role)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        process.off("exit", killOnExit);
        child.kill("SIGINT"); // fast shutdown: ends sessions, checkpoints, exits
        const timeout = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timeout);
        const left = processesOf(dataDir);
        rmSync(dir, { recursive: true, force: true });
        if (left.length > 0) {
          for (const pid of left) process.kill(pid, "SIGKILL");
          throw new Error(`postgres processes left after stop: ${left.join(", ")}`);
        }
      },
    };
  }
}
