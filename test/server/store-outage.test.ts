/**
 * The database unreachable: compat serve over a real PostgreSQL reached through a TCP relay that
 * the test cuts (every connection dropped, new ones refused) and restores. While it is cut, reads
 * and writes are a clear 503 in JSON, /healthz says so, and a line goes to the log; when it is
 * back, the next request works without a restart.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ask } from "../helpers/http.js";
import { type ServerFixture, seedStore, startServerFixture } from "../helpers/serve.js";
import { useStores } from "../helpers/stores.js";

/** A TCP relay 127.0.0.1:port → 127.0.0.1:to that can be cut and restored on the same port. */
class Relay {
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  port = 0;
  constructor(readonly to: number) {}

  async open(): Promise<void> {
    this.#server = createServer((client) => {
      const upstream = connect(this.to, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("close", () => this.#sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((res) => this.#server!.listen(this.port, "127.0.0.1", res));
    const a = this.#server.address();
    if (a && typeof a === "object") this.port = a.port;
  }

  async cut(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((res) => this.#server!.close(() => res()));
  }
}

describe("the store unreachable (PostgreSQL)", () => {
  const stores = useStores("postgres");
  let f: ServerFixture;
  let relay: Relay;

  beforeAll(async () => {
    const direct = await stores.location();
    if (direct.backend !== "postgres") throw new Error("postgres expected");
    const url = new URL(direct.url);
    relay = new Relay(Number(url.port));
    await relay.open();
    url.port = String(relay.port);
    f = await startServerFixture({ location: { backend: "postgres", url: url.toString() } });
    await seedStore(f.store);
  });
  afterAll(async () => {
    await f?.stop();
    await relay?.cut().catch(() => {});
  });

  it("answers 503 with a log line while the database is away, and recovers when it is back", async () => {
    expect((await ask(f.url, "/api/v1/dashboard", { token: f.tokens.viewer })).status).toBe(200);
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await relay.cut();
      const read = await ask(f.url, "/api/v1/dashboard", { token: f.tokens.viewer });
      expect(read.status, read.text).toBe(503);
      expect(read.json).toMatchObject({ error: "store-unavailable" });
      expect((read.json as { message: string }).message).toMatch(/cannot be reached/);
      expect((read.json as { message: string }).message).not.toMatch(/pw-/); // no password in messages
      const page = await ask(f.url, "/", { token: f.tokens.viewer, headers: { accept: "text/html" } });
      expect(page.status).toBe(503);
      const write = await ask(f.url, "/api/v1/updates", {
        method: "POST",
        token: f.tokens.maintainer,
        body: { layer: "dev", arch: "x86_64" },
      });
      expect(write.status).toBe(503);
      const health = await ask(f.url, "/healthz");
      expect(health.status).toBe(503);
      expect(health.json).toMatchObject({ status: "store-unavailable" });
    } finally {
      spy.mockRestore();
    }
    expect(lines.join("")).toMatch(/cannot be reached/);

    await relay.open();
    await expect
      .poll(async () => (await ask(f.url, "/api/v1/dashboard", { token: f.tokens.viewer })).status, {
        timeout: 20_000,
      })
      .toBe(200);
    expect((await ask(f.url, "/healthz")).status).toBe(200);
    const m = await ask(f.url, "/metrics");
    expect(m.text).toMatch(/compat_store_unavailable_total [1-9]/);
  });
});
