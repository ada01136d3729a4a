/**
 * A closed-loop HTTP load: `connections` clients, each sending its next request when the last
 * answer arrived, for `durationMs`, round-robin over `paths`. Latency percentiles, requests per
 * second, and every answer that was not a 200 (an error) counted by kind. Used by the load test and
 * bench/serve.
 */
import autocannon from "autocannon";

export interface LoadResult {
  requests: number;
  errors: number;
  /** "500", "timeouts", "errors" (connection errors) … with counts. */
  errorKinds: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  requestsPerSecond: number;
}

export interface LoadOptions {
  base: string;
  paths: string[];
  headers?: Record<string, string>;
  connections: number;
  durationMs: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** autocannon (closed loop, one request in flight per connection), every answer's latency kept. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const errorKinds: Record<string, number> = {};
  let non200 = 0;
  let finished: (r: autocannon.Result) => void = () => {};
  let failed: (e: Error) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  const instance = autocannon(
    {
      url: o.base,
      connections: o.connections,
      pipelining: 1,
      duration: o.durationMs / 1000,
      timeout: 30,
      headers: o.headers,
      requests: o.paths.map((path) => ({ method: "GET", path })),
    },
    (e, r) => (e ? failed(e) : finished(r)),
  );
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    latencies.push(responseTime);
    if (statusCode !== 200) {
      non200++;
      errorKinds[String(statusCode)] = (errorKinds[String(statusCode)] ?? 0) + 1;
    }
  });
  const r = await done;
  if (r.errors > 0) errorKinds.errors = r.errors;
  if (r.timeouts > 0) errorKinds.timeouts = r.timeouts;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors: non200 + r.errors + r.timeouts,
    errorKinds,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? Number.NaN,
    requestsPerSecond: latencies.length / (o.durationMs / 1000),
  };
}
