/**
 * The gateway's keep-alive connections to a provider (adapters/server/upstream.ts), against a real
 * `node:http` provider on 127.0.0.1 that closes connections on cue: an idle connection is closed
 * before the provider's announced keep-alive timeout (so no request goes out on a connection the
 * provider is closing), and a request lost with its connection is never sent twice.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { callMember } from "../../adapters/server/upstream.js";

const COMPLETION = JSON.stringify({
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: "Hi." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
});
const BODY = JSON.stringify({ model: "mini", messages: [{ role: "user", content: "Hello" }] });

/** What the provider saw: requests read, connections opened. */
interface Provider {
  baseURL: string;
  requests: number;
  connections: number;
  server: Server;
}

/**
 * A provider that answers every request, except that `drop(n, socketRequests)` may close the
 * connection instead (request n of the provider, request `socketRequests` on its connection).
 */
async function startProvider(
  drop: (request: number, socketRequests: number) => boolean,
  keepAliveTimeout = 5_000,
): Promise<Provider> {
  const perSocket = new WeakMap<Socket, number>();
  const provider: Provider = { baseURL: "", requests: 0, connections: 0, server: createServer() };
  provider.server.keepAliveTimeout = keepAliveTimeout;
  provider.server.on("connection", () => {
    provider.connections += 1;
  });
  provider.server.on("request", (request, response) => {
    provider.requests += 1;
    const onSocket = (perSocket.get(request.socket) ?? 0) + 1;
    perSocket.set(request.socket, onSocket);
    request.resume();
    request.on("end", () => {
      if (drop(provider.requests, onSocket)) {
        request.socket.destroy();
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(COMPLETION);
    });
  });
  await new Promise<void>((resolve) => provider.server.listen(0, "127.0.0.1", resolve));
  provider.baseURL = `http://127.0.0.1:${(provider.server.address() as AddressInfo).port}/v1`;
  return provider;
}

let provider: Provider | undefined;
afterEach(async () => {
  const server = provider?.server;
  provider = undefined;
  if (server === undefined) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const call = (baseURL: string) => callMember({ baseURL, model: "mini" }, BODY, new AbortController().signal, "mini");

describe("keep-alive connections to a provider", () => {
  it("closes an idle connection before the provider's announced keep-alive timeout", async () => {
    // Node's server announces `Keep-Alive: timeout=2`; the gateway closes its idle connection after
    // 1 s, so a call 1.3 s later opens a new one instead of racing the provider's close at 2 s.
    provider = await startProvider(() => false, 2_000);
    await call(provider.baseURL);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    await call(provider.baseURL);
    expect(provider.connections).toBe(2);
    expect(provider.requests).toBe(2);
  });

  it("reuses a connection within the provider's keep-alive timeout", async () => {
    provider = await startProvider(() => false, 5_000);
    await call(provider.baseURL);
    await call(provider.baseURL);
    expect(provider.connections).toBe(1);
  });

  it("never sends a request twice: one the provider read and dropped on a reused connection fails", async () => {
    // The provider reads the second request of the connection, then drops the connection: a reset
    // cannot tell this from an idle connection closed under the request, so it is not sent again.
    provider = await startProvider((request, onSocket) => request === 2 && onSocket === 2);
    await call(provider.baseURL);
    await expect(call(provider.baseURL)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(provider.requests).toBe(2);
  });
});
