/**
 * Load, bounded: 50 concurrent clients for 30 s read the dashboard page and the API while the
 * server runs real jobs one after another (`compat watch --once`) and takes writes (API tokens
 * made for a user, one at a time, by an admin). No request fails, no write is lost, and the
 * latency percentiles are printed (never asserted: the figure is bench/serve's).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { availableActions } from "../../src/server/actions.js";
import { ask } from "../helpers/http.js";
import { runLoad } from "../helpers/load.js";
import { type ServerFixture, seedStore, startServerFixture } from "../helpers/serve.js";
import { useStores } from "../helpers/stores.js";

describe.skipIf(!(await availableActions(buildProgram().commands)).has("watch"))(
  "compat serve under load (SQLite)",
  () => {
    const stores = useStores("sqlite");
    let f: ServerFixture;
    beforeAll(async () => {
      f = await startServerFixture({ location: await stores.location() });
      await seedStore(f.store);
    });
    afterAll(async () => f?.stop());

    it("50 clients for 30 s while jobs run and writes go on: no error, no lost write", async () => {
      const stop = { now: false };
      const jobs: number[] = [];
      const jobLoop = (async () => {
        while (!stop.now) {
          const r = await ask(f.url, "/api/v1/watch", {
            method: "POST",
            token: f.tokens.maintainer,
            body: {},
          });
          if (r.status === 202) {
            const id = (r.json as { run: { id: number } }).run.id;
            jobs.push(id);
            for (const j of f.server.ctx.jobs.running()) await j.done;
          } else expect(r.status, r.text).toBe(409);
        }
      })();
      const made: number[] = [];
      const writeLoop = (async () => {
        while (!stop.now) {
          const r = await ask(f.url, "/api/v1/users/vera/tokens", {
            method: "POST",
            token: f.tokens.admin,
            body: { label: `load ${made.length}` },
          });
          expect(r.status, r.text).toBe(201);
          made.push((r.json as { tokenId: number }).tokenId);
        }
      })();
      const result = await runLoad({
        base: f.url,
        paths: ["/", "/api/v1/dashboard", "/api/v1/candidates", "/api/v1/findings", "/candidates/1", "/runs"],
        headers: { authorization: `Bearer ${f.tokens.viewer}` },
        connections: 50,
        durationMs: 30_000,
      });
      stop.now = true;
      await Promise.all([jobLoop, writeLoop]);
      process.stdout.write(
        `load: ${result.requests} requests in 30 s by 50 clients (${result.requestsPerSecond.toFixed(0)}/s), p50 ${result.p50Ms.toFixed(0)} ms, p95 ${result.p95Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms, max ${result.maxMs.toFixed(0)} ms; ${jobs.length} jobs, ${made.length} writes\n`,
      );
      expect(result.errors, JSON.stringify(result.errorKinds)).toBe(0);
      expect(result.requests).toBeGreaterThan(100);
      expect(jobs.length).toBeGreaterThan(0);
      expect(made.length).toBeGreaterThan(10);
      // every write is there, each once
      const stored = await f.store.db.selectFrom("api_tokens").select("id").where("id", "in", made).execute();
      expect(stored.map((r) => r.id).sort((a, b) => a - b)).toEqual([...made].sort((a, b) => a - b));
      // every job ended recorded, with its log
      for (const id of jobs) {
        const run = await ask(f.url, `/api/v1/runs/${id}`, { token: f.tokens.viewer });
        expect((run.json as { state: string }).state).not.toBe("running");
        expect((await ask(f.url, `/api/v1/runs/${id}/log`, { token: f.tokens.viewer })).text).toMatch(
          /compat watch/,
        );
      }
    }, 120_000);
  },
);
