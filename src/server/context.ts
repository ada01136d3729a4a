/** What every route of the server is given: the site, the store, the job runner, the read model. */
import type { SiteConfig } from "../site/load.js";
import type { Store } from "../store/store.js";
import type { ActionContext } from "./actions.js";
import type { LoginThrottle } from "./auth.js";
import type { JobRunner } from "./jobs.js";
import type { ServerMetrics } from "./metrics.js";
import type { ReadCache } from "./read-cache.js";
import type { SiteLayerInfo } from "./read-model.js";

export interface ServerContext extends ActionContext {
  site: SiteConfig;
  store: Store;
  jobs: JobRunner;
  siteLayers: SiteLayerInfo;
  metrics: ServerMetrics;
  /** How long a browser session lasts. */
  sessionTtlMs: number;
  /** Cookies are Secure (the server speaks TLS, or sits behind a proxy that does). */
  secureCookies: boolean;
  loginThrottle: LoginThrottle;
  /** Reads kept while the store does not change. */
  reads: ReadCache;
  /** Aborted when the server shuts down (ends the log streams). */
  shutdown: AbortSignal;
}
