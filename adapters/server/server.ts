/**
 * `serveGavelApp`: the gateway app on a socket (`@hono/node-server`), with graceful shutdown.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { GavelApp } from "./app.js";

/** Default listen host: loopback only. Serving beyond it needs keys (see `gavel serve`). */
export const DEFAULT_HOST = "127.0.0.1";

/** Default time `close()` lets in-flight requests and streams finish, in ms. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** Options of {@link serveGavelApp}. */
export interface ServeOptions {
  /** Listen host. Default {@link DEFAULT_HOST} (`127.0.0.1`). */
  host?: string;
  /** Listen port; 0 picks a free one. */
  port: number;
}

/** A listening gateway. */
export interface GavelServer {
  /** `http://<host>:<port>` (IPv6 hosts in brackets). */
  readonly url: string;
  readonly port: number;
  /**
   * Graceful shutdown: stop accepting connections, `/ready` answers 503, in-flight requests and
   * streams get `timeoutMs` to finish (then they are aborted and their reservations settled),
   * then idle connections are closed and the server stops.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * Serve a gateway app on `host:port` until `close()`.
 *
 * @param gateway - what `createGavelApp` returned.
 * @param options - {@link ServeOptions}
 * @returns the URL and `close`.
 * @example
 * ```ts
 * const gateway = createGavelApp({ members });
 * const server = await serveGavelApp(gateway, { port: 8080 });
 * console.log(`listening on ${server.url}`);
 * process.once("SIGTERM", () => void server.close({ timeoutMs: 30_000 }));
 * ```
 */
export async function serveGavelApp(
  gateway: Pick<GavelApp, "app" | "drain">,
  options: ServeOptions,
): Promise<GavelServer> {
  const { host = DEFAULT_HOST, port } = options;
  const server = createAdaptorServer({ fetch: gateway.app.fetch, hostname: host, port }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    close({ timeoutMs = DEFAULT_CLOSE_TIMEOUT_MS } = {}) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await gateway.drain(timeoutMs);
        server.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}
