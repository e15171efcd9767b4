/**
 * The routes of `createGavelApp` besides chat, and the middleware it mounts on `/v1/*`: health and
 * readiness, the metrics, the request counter, bearer-key auth, `GET /v1/models`, feedback, and the
 * answers for an unknown route and an unexpected error. Each `mount*` adds its part to the app;
 * `app.ts` calls them in the order a request meets them.
 *
 * Read top to bottom: probes and metrics → counting → auth → models → feedback → fallbacks.
 */
import type { Hono, MiddlewareHandler } from "hono";
import { describeError } from "../../src/errors.js";
import type { RouterOutcome } from "../../src/router/outcomes.js";
import type { GavelAppEnv } from "./app.js";
import { FEEDBACK_PATH, handleFeedback, keyScoped, type OutcomeRecorder } from "./feedback.js";
import { ANONYMOUS_KEY, type Gateway } from "./gateway.js";
import { internalError, invalidApiKey, modelNotFound } from "./openai.js";
import { ROUTER_MODEL_ID, type VirtualKey } from "./types.js";

/**
 * `GET /health` (the process answers), `GET /ready` (503 once draining) and, with metrics,
 * `GET /metrics` (with keys, it needs a valid gateway key too: it names key ids and their spend).
 *
 * @example
 * ```ts
 * mountProbes(app, gateway);
 * ```
 */
export function mountProbes(app: Hono<GavelAppEnv>, gateway: Gateway): void {
  const { keys, metrics } = gateway;
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", (c) => (gateway.draining ? c.json({ status: "draining" }, 503) : c.json({ status: "ready" })));
  if (metrics === undefined) return;
  app.get("/metrics", async (c) => {
    // With keys, the metrics (key ids, spend) need a valid gateway key too.
    if (keys !== undefined) {
      const header = c.req.header("authorization");
      const presented = bearerKey(header);
      if (presented === undefined) return invalidApiKey(header !== undefined).toResponse();
      if ((await keys.verify(presented)) === undefined) return invalidApiKey(true).toResponse();
    }
    return c.body(await metrics.render(), 200, { "content-type": metrics.contentType });
  });
}

/**
 * With metrics, a middleware first on `/v1/*` that counts every request the chat route does not
 * count itself: what the middleware refuses (413, 401, 429), `/v1/models`, feedback, and a chat
 * request refused while draining (503).
 *
 * @example
 * ```ts
 * mountRequestCounter(app, gateway); // before the body limit and auth
 * ```
 */
export function mountRequestCounter(app: Hono<GavelAppEnv>, gateway: Gateway): void {
  const { metrics, countedByChat } = gateway;
  if (metrics === undefined) return;
  app.use("/v1/*", async function countRequest(c, next) {
    const started = performance.now();
    await next();
    if (countedByChat.has(c)) return;
    const path = c.req.path;
    const route = path === "/v1/chat/completions" ? "chat" : path.startsWith("/v1/models") ? "models" : "other";
    const keyId = c.get("gavelKey")?.id;
    try {
      metrics.observe({
        route,
        status: c.res.status,
        durationSeconds: (performance.now() - started) / 1000,
        ...(keyId !== undefined && { keyId }),
      });
    } catch {
      // Metrics must not fail the request.
    }
  });
}

/**
 * The auth middleware of `/v1/*`: a bearer key the gateway's verifier knows sets `gavelKey`; a
 * missing or unknown one is a 401. Without keys every request is {@link ANONYMOUS_KEY}.
 *
 * @example
 * ```ts
 * app.use("/v1/*", keyAuth(gateway));
 * ```
 */
export function keyAuth(gateway: Gateway): MiddlewareHandler<GavelAppEnv> {
  const { keys } = gateway;
  return async function gavelAuth(c, next) {
    if (keys === undefined) {
      c.set("gavelKey", ANONYMOUS_KEY);
      return next();
    }
    const header = c.req.header("authorization");
    const presented = bearerKey(header);
    if (presented === undefined) return invalidApiKey(header !== undefined).toResponse();
    const key = await keys.verify(presented);
    if (key === undefined) return invalidApiKey(true).toResponse();
    c.set("gavelKey", key);
    return next();
  };
}

/**
 * `GET /v1/models` (`gavel/auto` and every member) and `GET /v1/models/{id}` (404 `model_not_found`
 * listing the ids for another id).
 *
 * @example
 * ```ts
 * mountModels(app, gateway);
 * ```
 */
export function mountModels(app: Hono<GavelAppEnv>, gateway: Gateway): void {
  const { members, modelIds } = gateway;
  const created = Math.floor(Date.now() / 1000);
  const modelEntries = [
    { id: ROUTER_MODEL_ID, object: "model", created, owned_by: "gavel" },
    ...members.map((member) => ({ id: member.name, object: "model", created, owned_by: member.provider })),
  ];
  const modelsBody = JSON.stringify({ object: "list", data: modelEntries });
  app.get("/v1/models", () => new Response(modelsBody, { headers: { "content-type": "application/json" } }));
  app.get("/v1/models/*", (c) => {
    const raw = c.req.path.slice("/v1/models/".length);
    let id: string;
    try {
      id = decodeURIComponent(raw);
    } catch {
      id = raw; // a malformed escape names no model
    }
    const model = modelEntries.find((entry) => entry.id === id);
    return model === undefined ? modelNotFound(id, modelIds).toResponse() : c.json(model);
  });
}

/**
 * `POST /v1/gavel/feedback` (`feedback.ts`): a client grades a routed answer. Feedback on an auction
 * of the fast path is recorded as `AuctionRouter.recordOutcome` records it (the same rule and
 * refusals), once the auction's writes are done; auctions the fast path did not decide go to the
 * key's router. With keys, only the key the auction was routed for may grade it.
 *
 * @example
 * ```ts
 * mountFeedback(app, gateway);
 * ```
 */
export function mountFeedback(app: Hono<GavelAppEnv>, gateway: Gateway): void {
  const { fastOutcomes, engineFor, routerFor, owners } = gateway;
  const outcomeRecorder = (key: VirtualKey): OutcomeRecorder => {
    const recorder: OutcomeRecorder = {
      recordOutcome: (auctionId: string, outcome: RouterOutcome) =>
        fastOutcomes.has(auctionId)
          ? fastOutcomes.record(auctionId, outcome, engineFor(key).settings)
          : routerFor(key).recordOutcome(auctionId, outcome),
    };
    return owners === undefined ? recorder : keyScoped(recorder, owners, key);
  };
  app.post(FEEDBACK_PATH, async (c) =>
    handleFeedback(await c.req.text(), outcomeRecorder(c.get("gavelKey") ?? ANONYMOUS_KEY)),
  );
}

/**
 * An unknown route: 404 `not_found` listing the routes. An unexpected error: logged, and a 500
 * `internal_error` carrying the request id.
 *
 * @example
 * ```ts
 * mountFallbacks(app, gateway); // last
 * ```
 */
export function mountFallbacks(app: Hono<GavelAppEnv>, gateway: Gateway): void {
  app.notFound((c) =>
    c.json(
      {
        error: {
          message: `No route ${c.req.method} ${c.req.path}. The gateway serves POST /v1/chat/completions, POST /v1/gavel/feedback, GET /v1/models (and /v1/models/{id}), GET /health, GET /ready and GET /metrics.`,
          type: "invalid_request_error",
          code: "not_found",
          param: null,
        },
      },
      404,
    ),
  );
  app.onError((error, c) => {
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    gateway.log("error", "request.failed", { requestId, path: c.req.path, error: describeError(error) });
    return internalError(requestId).toResponse();
  });
}

/** The key of an `Authorization: Bearer <key>` header, or undefined when there is none. */
function bearerKey(header: string | undefined): string | undefined {
  return header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
}
