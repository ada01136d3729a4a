/**
 * A port nothing listens on now on 127.0.0.1 (the kernel's pick for `listen(0)`), for a daemon the
 * test starts next. Another process may take it before the daemon binds: callers that can, retry.
 */
import { type AddressInfo, createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
