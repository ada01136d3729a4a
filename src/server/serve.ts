/**
 * `compat serve`: open the store, mark the runs a dead server left as interrupted, read the site
 * config's layers, start the HTTP server and the watch scheduler; on SIGTERM or SIGINT stop taking
 * requests, let running jobs finish (up to a grace period, then stop them: they end interrupted),
 * and close the store.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { CompatError, InputError } from "../errors.js";
import { log } from "../log.js";
import { openSiteLayer } from "../site/layers.js";
import type { SiteConfig } from "../site/load.js";
import { openStore } from "../store/open.js";
import { interruptDeadRuns } from "../store/runs.js";
import type { Store } from "../store/store.js";
import { availableActions, type CommandShape, runWatch } from "./actions.js";
import { type AppOptions, buildApp, type ServerContext } from "./app.js";
import { LoginThrottle } from "./auth.js";
import { JobBusyError, JobRunner } from "./jobs.js";
import { ServerMetrics } from "./metrics.js";
import { ReadCache } from "./read-cache.js";
import type { SiteLayerInfo } from "./read-model.js";

export interface ServeOptions {
  site: SiteConfig;
  /** The CLI's commands (its program's): the server offers the actions they can do (availableActions). */
  commands: readonly CommandShape[];
  host: string;
  port: number;
  /** PEM files: serve HTTPS (and mark cookies Secure). */
  tls?: { cert: string; key: string };
  /** Behind a TLS-terminating proxy: trust X-Forwarded-*, cookies Secure. */
  behindProxy?: boolean;
  /** JSON log line per request on stderr. */
  requestLog?: boolean;
  /** A cron expression: run `compat watch --once` on it (none: no scheduled watch). */
  watchSchedule?: string;
  watchTimezone?: string;
  /** How long running jobs may go on after a shutdown signal before they are stopped (default 30 s). */
  shutdownGraceMs?: number;
  sessionTtlMs?: number;
  /** The command that is `compat` for jobs (tests). */
  compat?: string[];
  /** Told every route as it is added (the authorisation test walks them all). */
  onRoute?: AppOptions["onRoute"];
}

export interface RunningServer {
  app: FastifyInstance;
  ctx: ServerContext;
  /** The address it listens on, e.g. `http://127.0.0.1:8080`. */
  url: string;
  close(): Promise<void>;
}

/** Each site layer's version, flavor, os and arches, read from its spec once at start. */
export async function readSiteLayers(site: SiteConfig): Promise<SiteLayerInfo> {
  const out: SiteLayerInfo = new Map();
  for (const name of Object.keys(site.layers)) {
    try {
      const o = await openSiteLayer(site, name);
      out.set(name, {
        version: o.spec.spec.version,
        flavor: o.spec.spec.flavor,
        os: o.spec.spec.os,
        arches: [...o.arches],
      });
    } catch (e) {
      log.warn(`layer ${name}: ${(e as Error).message} (the dashboard shows what the store knows of it)`);
    }
  }
  return out;
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  let https: AppOptions["https"];
  if (o.tls) {
    try {
      https = { cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key) };
    } catch (e) {
      throw new InputError(`cannot read the TLS certificate or key: ${(e as Error).message}`);
    }
  }
  // a schedule that is not cron is refused before anything listens
  if (o.watchSchedule !== undefined) await checkSchedule(o.watchSchedule, o.watchTimezone);
  const actions = availableActions(o.commands);
  if (o.watchSchedule !== undefined && !actions.has("watch"))
    throw new InputError("--watch-schedule: this installation of compat has no compat watch --once");
  const store: Store = await openStore(o.site.store);
  try {
    const interrupted = await interruptDeadRuns(store);
    for (const r of interrupted)
      log.warn(`run ${r.id} (${r.kind}) was running when its process died: marked interrupted`);
    const shutdown = new AbortController();
    let metrics: ServerMetrics | undefined;
    const jobs = new JobRunner(store, {
      logDir: join(o.site.stateDir, "jobs"),
      cwd: o.site.baseDir,
      compat: o.compat,
      onFinish: (job, r) =>
        metrics?.jobDuration.observe({ action: job.spec.action, state: r.state }, r.durationMs / 1000),
    });
    metrics = new ServerMetrics(store, () => jobs.running().length);
    const ctx: ServerContext = {
      site: o.site,
      store,
      jobs,
      siteLayers: await readSiteLayers(o.site),
      actions,
      metrics,
      sessionTtlMs: o.sessionTtlMs ?? 12 * 3600_000,
      secureCookies: Boolean(o.tls) || Boolean(o.behindProxy),
      loginThrottle: new LoginThrottle(),
      reads: new ReadCache(store),
      shutdown: shutdown.signal,
    };
    const app = await buildApp(ctx, {
      logger: o.requestLog ? { level: "info", stream: process.stderr } : false,
      trustProxy: o.behindProxy,
      https,
      onRoute: o.onRoute,
    });
    try {
      await app.listen({ host: o.host, port: o.port });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CompatError(
        code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL" ? "input" : "tool",
        `cannot listen on ${o.host}:${o.port}: ${code === "EADDRINUSE" ? "the address is in use" : (e as Error).message}`,
        {
          hint:
            code === "EADDRINUSE"
              ? "another compat serve (or another server) listens there: choose --listen ADDR:PORT"
              : undefined,
        },
      );
    }
    const addr = app.server.address();
    const port = typeof addr === "object" && addr ? addr.port : o.port;
    const hostShown = o.host.includes(":") ? `[${o.host}]` : o.host;
    const url = `${https ? "https" : "http"}://${hostShown}:${port}`;

    const scheduler = o.watchSchedule
      ? await scheduleWatch(ctx, o.watchSchedule, o.watchTimezone)
      : undefined;
    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        scheduler?.stop();
        shutdown.abort();
        await Promise.all([app.close(), jobs.shutdown(o.shutdownGraceMs ?? 30_000)]);
        await store.close().catch(() => {});
      })();
      return closing;
    };
    return { app, ctx, url, close };
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
}

async function checkSchedule(schedule: string, timezone: string | undefined): Promise<void> {
  const { Cron } = await import("croner");
  try {
    new Cron(schedule, { timezone, paused: true }).stop();
  } catch (e) {
    throw new InputError(
      `the watch schedule ${JSON.stringify(schedule)} is not a cron expression: ${(e as Error).message}`,
      { hint: "five fields: minute hour day-of-month month day-of-week, e.g. '0 */6 * * *'" },
    );
  }
}

/** Run `compat watch --once` on a cron schedule; a run another server holds is skipped. */
async function scheduleWatch(ctx: ServerContext, schedule: string, timezone: string | undefined) {
  const { Cron } = await import("croner");
  let job: InstanceType<typeof Cron>;
  try {
    job = new Cron(schedule, { timezone, protect: true }, async () => {
      try {
        const started = await runWatch(ctx, "scheduler");
        const r = await started.done;
        log.info(`scheduled watch: run ${r.run.id} ${r.state}; next at ${job.nextRun()?.toISOString()}`);
      } catch (e) {
        if (e instanceof JobBusyError) log.info(`scheduled watch skipped: ${e.message}`);
        else log.error(`scheduled watch failed to start: ${(e as Error).message}`);
      }
    });
  } catch (e) {
    throw new InputError(
      `the watch schedule ${JSON.stringify(schedule)} is not a cron expression: ${(e as Error).message}`,
    );
  }
  log.info(`watch scheduled (${schedule}): next at ${job.nextRun()?.toISOString()}`);
  return job;
}
