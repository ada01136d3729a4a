/**
 * `compat serve [--config FILE] [--listen ADDR:PORT] [--tls-cert F --tls-key F] [--behind-proxy]
 *  [--log-requests] [--watch-schedule CRON] [--shutdown-grace SECONDS]`: the web UI and HTTP API
 * over the store, until SIGINT or SIGTERM.
 */
import { type Command, InvalidArgumentError } from "commander";
import { InputError } from "../errors.js";
import { log } from "../log.js";

interface ServeCliOptions {
  config?: string;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  behindProxy?: boolean;
  logRequests?: boolean;
  watchSchedule?: string;
  shutdownGrace: number;
}

/** `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`, `0.0.0.0:8080`, or a port alone (on 127.0.0.1). */
export function parseListen(value: string): { host: string; port: number } {
  const m =
    /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):([0-9]{1,5})$/.exec(value) ??
    /^()()([0-9]{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw new InvalidArgumentError("expected ADDR:PORT (127.0.0.1:8080, [::1]:8080) or a port number");
  return { host: m[1] || m[2] || "127.0.0.1", port };
}

function seconds(value: string): number {
  if (!/^[0-9]{1,5}$/.test(value)) throw new InvalidArgumentError("expected a whole number of seconds");
  return Number(value);
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function register(program: Command): void {
  program
    .command("serve")
    .description(
      "the web UI and HTTP API over the store: dashboard, candidates, approvals, findings, runs, audit log",
    )
    .option(
      "--config <file>",
      "site config (default ./compat.yaml, else ./compat-state/ with a SQLite store)",
    )
    .option("--listen <addr:port>", "where to listen (default: localhost only)", "127.0.0.1:8080")
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM); cookies are then Secure")
    .option("--tls-key <file>", "the certificate's private key (PEM)")
    .option(
      "--behind-proxy",
      "a TLS-terminating reverse proxy is in front: trust X-Forwarded-*, Secure cookies",
    )
    .option("--log-requests", "log every request as a JSON line on stderr")
    .option("--watch-schedule <cron>", "run compat watch --once on this cron schedule (e.g. '0 */6 * * *')")
    .option(
      "--shutdown-grace <seconds>",
      "on SIGTERM, how long running jobs may go on before they are stopped",
      seconds,
      30,
    )
    .action(async (opts: ServeCliOptions) => {
      const { host, port } = parseListen(opts.listen);
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined))
        throw new InputError("--tls-cert and --tls-key go together");
      const { loadSiteConfig } = await import("../site/load.js");
      const { startServer } = await import("../server/serve.js");
      const site = await loadSiteConfig(opts.config);
      const tls = opts.tlsCert && opts.tlsKey ? { cert: opts.tlsCert, key: opts.tlsKey } : undefined;
      if (!LOOPBACK.test(host) && !tls && !opts.behindProxy)
        log.warn(
          `listening on ${host} without TLS: passwords and tokens cross the network in the clear (use --tls-cert/--tls-key or a TLS proxy with --behind-proxy)`,
        );
      const server = await startServer({
        site,
        commands: program.commands,
        host,
        port,
        tls,
        behindProxy: opts.behindProxy,
        requestLog: opts.logRequests,
        watchSchedule: opts.watchSchedule,
        shutdownGraceMs: opts.shutdownGrace * 1000,
      });
      log.info(`compat serve: ${server.url} (store ${server.ctx.store.description}); stop with Ctrl-C`);
      const users = await server.ctx.store.db.selectFrom("users").select("name").limit(1).execute();
      if (users.length === 0)
        log.warn(
          `no users yet: add the first admin with compat user add NAME --role admin${site.file ? ` --config ${site.file}` : ""}`,
        );
      await new Promise<void>((resolve) => {
        const stop = (sig: NodeJS.Signals) => {
          const running = server.ctx.jobs.running().length;
          log.info(
            `${sig}: stopping${running ? ` (${running} running job(s) get ${opts.shutdownGrace} s to finish)` : ""}`,
          );
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          server.close().then(resolve, resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      log.info("compat serve stopped");
    });
}
