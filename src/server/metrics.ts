/**
 * Prometheus metrics at /metrics (prom-client): the site's state read from the store at each
 * scrape (published layers, open findings by severity, candidates by state, the last watch and its
 * age), and what this server saw itself (job durations, request latencies, running jobs).
 */
import { sql } from "kysely";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Store } from "../store/store.js";

export class ServerMetrics {
  readonly registry = new Registry();
  readonly jobDuration: Histogram<"action" | "state">;
  readonly requestDuration: Histogram<"method" | "route" | "status">;
  readonly storeUnavailable: Counter;

  constructor(store: Store, runningJobs: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "compat_serve_" });
    this.jobDuration = new Histogram({
      name: "compat_job_duration_seconds",
      help: "Duration of the jobs this server ran, by action and how they ended",
      labelNames: ["action", "state"],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.requestDuration = new Histogram({
      name: "compat_http_request_duration_seconds",
      help: "HTTP request latency by route",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.storeUnavailable = new Counter({
      name: "compat_store_unavailable_total",
      help: "Requests answered 503 because the store could not be reached",
      registers,
    });
    new Gauge({
      name: "compat_jobs_running",
      help: "Jobs this server runs now",
      registers,
      collect() {
        this.set(runningJobs());
      },
    });
    new Gauge({
      name: "compat_published_layers",
      help: "Layers each target holds now (its newest publication of each layer directory)",
      labelNames: ["target"],
      registers,
      async collect() {
        const newest = store.db
          .selectFrom("publications")
          .select((eb) => eb.fn.max("id").as("id"))
          .groupBy(["target", "layer"]);
        const rows = await store.db
          .selectFrom("publications")
          .select(["target", (eb) => eb.fn.countAll<number>().as("n")])
          .where("id", "in", newest)
          .where("sha256", "is not", null)
          .groupBy("target")
          .execute();
        this.reset();
        for (const r of rows) this.set({ target: r.target }, Number(r.n));
      },
    });
    new Gauge({
      name: "compat_open_findings",
      help: "Open findings by severity, over every target, layer and arch",
      labelNames: ["severity"],
      registers,
      async collect() {
        const rows = await store.db
          .selectFrom("findings")
          .select(["severity", (eb) => eb.fn.countAll<number>().as("n")])
          .where("resolved_at", "is", null)
          .groupBy("severity")
          .execute();
        this.reset();
        for (const r of rows) this.set({ severity: r.severity }, Number(r.n));
      },
    });
    new Gauge({
      name: "compat_candidates",
      help: "Candidates by state",
      labelNames: ["state"],
      registers,
      async collect() {
        const rows = await store.db
          .selectFrom("candidates")
          .select(["state", (eb) => eb.fn.countAll<number>().as("n")])
          .groupBy("state")
          .execute();
        this.reset();
        for (const r of rows) this.set({ state: r.state }, Number(r.n));
      },
    });
    const lastWatch = async (): Promise<number | undefined> => {
      const row = await store.db
        .selectFrom("runs")
        .select((eb) => eb.fn.max("ended_at").as("at"))
        .where("state", "=", "succeeded")
        .where((eb) =>
          eb.or([
            eb("kind", "=", "watch"),
            eb.and([eb("kind", "=", "job"), eb("detail", "like", sql<string>`${'{"action":"watch"%'}`)]),
          ]),
        )
        .executeTakeFirst();
      return row?.at ? Date.parse(row.at as string) / 1000 : undefined;
    };
    new Gauge({
      name: "compat_last_watch_timestamp_seconds",
      help: "When the last watch run that succeeded ended (Unix time; 0 before the first)",
      registers,
      async collect() {
        // an unlabelled gauge is always exposed: "never" is 0, as Prometheus' *_last_success_timestamp gauges say it
        this.set((await lastWatch()) ?? 0);
      },
    });
    new Gauge({
      name: "compat_last_watch_age_seconds",
      help: "Seconds since the last watch run that succeeded (+Inf before the first, so an age alert fires)",
      registers,
      async collect() {
        const at = await lastWatch();
        this.set(at === undefined ? Number.POSITIVE_INFINITY : Date.now() / 1000 - at);
      },
    });
  }
}
