/**
 * The watch scheduler inside compat serve: on its cron schedule the server runs
 * `compat watch --once` as a job of the user `scheduler`, recorded as a run with its log and in
 * the audit log, its duration in the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { availableActions } from "../../src/server/actions.js";
import { ask } from "../helpers/http.js";
import { type ServerFixture, startServerFixture } from "../helpers/serve.js";
import { useStores } from "../helpers/stores.js";

describe.skipIf(!(await availableActions(buildProgram().commands)).has("watch"))(
  "compat serve --watch-schedule",
  () => {
    const stores = useStores("sqlite");
    let f: ServerFixture;
    beforeAll(async () => {
      // croner's six fields: every second second
      f = await startServerFixture({
        location: await stores.location(),
        serve: { watchSchedule: "*/2 * * * * *" },
      });
    });
    afterAll(async () => f?.stop());

    it("runs compat watch --once as the scheduler's job, recorded with its log", async () => {
      let run: { id: number; state: string } | undefined;
      await expect
        .poll(
          async () => {
            const runs = (await ask(f.url, "/api/v1/runs", { token: f.tokens.viewer })).json as {
              runs: { id: number; state: string; detail: { by?: string; action?: string } }[];
            };
            run = runs.runs.find((r) => r.detail?.by === "scheduler" && r.state !== "running");
            return run !== undefined;
          },
          { timeout: 60_000, interval: 500 },
        )
        .toBe(true);
      const log = await ask(f.url, `/api/v1/runs/${run!.id}/log`, { token: f.tokens.viewer });
      expect(log.text).toMatch(/^\$ compat watch --once --config \S+ --json/);
      // the site has no published layer: the real watch checked nothing, and says so (exit 3)
      expect(run!.state).toBe("failed");
      expect(log.text).toMatch(/nothing was checked/);
      const audit = (await ask(f.url, `/api/v1/audit?subject=run:${run!.id}`, { token: f.tokens.viewer }))
        .json as {
        entries: { actor: string; action: string }[];
      };
      expect(audit.entries.map((e) => [e.actor, e.action])).toContainEqual(["scheduler", "job.started"]);
      expect(audit.entries.map((e) => [e.actor, e.action])).toContainEqual(["scheduler", "job.failed"]);
      const metrics = (await ask(f.url, "/metrics")).text;
      expect(metrics).toMatch(/^compat_job_duration_seconds_count\{action="watch",state="failed"\} [1-9]/m);
      // a watch that failed is not the last watch: never watched is an age of +Inf (an age alert fires), time 0
      expect(metrics).toMatch(/^compat_last_watch_age_seconds \+Inf$/m);
      expect(metrics).toMatch(/^compat_last_watch_timestamp_seconds 0$/m);
    });
  },
);
