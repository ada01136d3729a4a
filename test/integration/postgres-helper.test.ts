/** The throwaway PostgreSQL the store tests use: local only, passwords enforced, nothing left after stop. */
import { readFileSync } from "node:fs";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { processAlive, startPostgres } from "../helpers/postgres.js";

/** Listening sockets (address:port in hex) from /proc/net/tcp and tcp6. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const out: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"])
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === "0A" && local?.endsWith(`:${hexPort}`)) out.push(local);
    }
  return out;
}

describe("test PostgreSQL cluster", () => {
  it("listens on 127.0.0.1 only, enforces passwords, and leaves no process when stopped", async () => {
    const cluster = await startPostgres();
    let stopped = false;
    try {
      expect(listeners(cluster.port)).toEqual([
        `0100007F:${cluster.port.toString(16).toUpperCase().padStart(4, "0")}`,
      ]);
      const url = await cluster.createDatabase("helper");
      const good = new pg.Client({ connectionString: url });
      await good.connect();
      expect((await good.query("select current_user as u, inet_server_addr() as a")).rows[0]).toEqual({
        u: "helper_owner",
        a: "127.0.0.1",
      });
      await good.end();
      const bad = new pg.Client({ connectionString: url.replace("pw-helper", "wrong") });
      await expect(bad.connect()).rejects.toThrow(/password authentication failed/);
      await bad.end().catch(() => {});
      await cluster.stop();
      stopped = true;
      expect(processAlive(cluster.pid)).toBe(false);
      expect(listeners(cluster.port)).toEqual([]);
    } finally {
      if (!stopped) await cluster.stop();
    }
  });
});
