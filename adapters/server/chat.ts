/**
 * `POST /v1/chat/completions`: a request's way from its body to its last byte. It is validated
 * (`openai.ts`), then goes to its target — `gavel/auto`: the key's router (or the fast path,
 * `fast-path.ts`); a member's name: that member, reserved on the key's budget — and is answered as
 * one completion or as server-sent events. See `createGavelApp` for what each setting does.
 *
 * Read top to bottom: `createChatRoute` (arrival, deadline, the error answer) → choosing the target
 * → `gavel/auto` through the router → a pinned member → sending a stream → helpers.
 */
import type { BindToolsInput } from "@langchain/core/language_models/chat_models";
import type { AIMessage, AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import type { Runnable } from "@langchain/core/runnables";
import type { Context } from "hono";
import { closeAbandoned } from "../../src/budget/abandoned.js";
import type { Reservation, ScopeIds, Settlement } from "../../src/budget/index.js";
import { countToolTokens, usageFromMessage } from "../../src/budget/index.js";
import { releaseQuietly, settleQuietly } from "../../src/budget/shared.js";
import { declaredOutputCap } from "../../src/models.js";
import type { RouterMetadata } from "../../src/router/router.js";
import type { GavelAppEnv } from "./app.js";
import { keyRunId } from "./budgets.js";
import { createFastPaths } from "./fast-path.js";
import {
  ANONYMOUS_KEY,
  AUCTION_ID_HEADER,
  type ChatRequestState,
  completionUsage,
  DEFAULT_PINNED_MAX_TOKENS,
  deadlineError,
  type Gateway,
  nowSeconds,
  RequestAborted,
  stopRequest,
  WINNER_HEADER,
} from "./gateway.js";
import {
  type ChatCompletionRequest,
  type CompletionUsage,
  completionId,
  createChunkEncoder,
  invalidRequest,
  modelNotFound,
  parseChatRequest,
  SSE_DONE,
  shuttingDown,
  sseEvent,
  textOf,
  toChatCompletion,
  toLangChainMessages,
  usageOf,
} from "./openai.js";
import { ROUTER_MODEL_ID, type ServerMember } from "./types.js";

/** A prepared call: who answers, how, and how its books are closed. */
interface Target {
  path: "router" | "pinned";
  /** The member (pinned) or `gavel/auto` until the auction names the winner. */
  member: string;
  runnable: Runnable;
  callOptions: Record<string, unknown>;
  /** json_schema on `gavel/auto`: the answer is a forced tool call, turned into content. */
  toolAsContent: boolean;
}

/**
 * The chat route's handler over `gateway`: a request is counted in flight, bounded by the
 * gateway's `timeoutMs`, aborted when its client leaves, and answered — or its error is (an
 * OpenAI-shaped error naming the member, when one was chosen).
 *
 * @example
 * ```ts
 * app.post("/v1/chat/completions", createChatRoute(gateway));
 * ```
 */
export function createChatRoute(gateway: Gateway): (c: Context<GavelAppEnv>) => Promise<Response> {
  const {
    byName,
    names,
    modelIds,
    keys,
    budgets,
    metrics,
    logPrompts,
    timeoutMs,
    billAbandonedCalls,
    routerFor,
    fastRouted,
    engineFor,
    owners,
    samplingCopy,
    reservedPromptTokens,
    inflight,
    trackSettlement,
    countedByChat,
    complete,
    pinnedAccount,
    callAndSettle,
    toHttpError,
  } = gateway;
  const { routedUpstream, pinnedUpstream } = createFastPaths(gateway);

  return async function chatCompletions(c) {
    const key = c.get("gavelKey") ?? ANONYMOUS_KEY;
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    if (gateway.draining) return shuttingDown().toResponse();
    countedByChat.add(c);
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const state: ChatRequestState = {
      requestId,
      key,
      started: performance.now(),
      controller: new AbortController(),
      hardStop: new AbortController(),
      observation: { route: "chat", status: 0, durationSeconds: 0, keyId: key.id },
      log: {},
      done,
      finish,
    };
    inflight.add(state);
    const clientSignal = c.req.raw.signal;
    const onClientGone = () => state.controller.abort(new RequestAborted("client"));
    if (clientSignal.aborted) onClientGone();
    else clientSignal.addEventListener("abort", onClientGone, { once: true });
    const deadline = setTimeout(() => stopRequest(state, deadlineError(timeoutMs)), timeoutMs);
    deadline.unref?.();
    void done.finally(() => {
      clearTimeout(deadline);
      clientSignal.removeEventListener("abort", onClientGone);
    });
    try {
      const response = await handleChat(state, await c.req.text(), c.req.header("content-type"));
      return response;
    } catch (error) {
      const http = await toHttpError(error, state);
      complete(state, http.status, http.status >= 500 ? error : undefined);
      return http.toResponse(state.observation.member ? { [WINNER_HEADER]: state.observation.member } : {});
    }
  };

  // --- choosing the target ----------------------------------------------------------------------

  /**
   * Parse and validate the body, then send it on its way: `gavel/auto` to the fast path when it
   * qualifies, else to the key's router; a member's name to its fast path (non-streamed, with an
   * `upstream`), else to {@link pinned}.
   */
  async function handleChat(state: ChatRequestState, text: string, contentType: string | undefined) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      const hint = contentType?.includes("json") ? "" : " (send it with Content-Type: application/json)";
      throw invalidRequest(
        `We could not parse the JSON body of your request: ${error instanceof Error ? error.message : String(error)}. Send a JSON object${hint}.`,
        null,
        "invalid_json",
      );
    }
    const { request, ignoredFields } = parseChatRequest(body);
    if (ignoredFields.length > 0) state.log.ignoredFields = ignoredFields;
    state.log.model = request.model;
    if (logPrompts) state.log.messages = request.messages;
    const stream = request.stream === true;
    state.observation.stream = stream;
    const messages = toLangChainMessages(request.messages); // also validates tool calls' arguments
    const user = request.user;
    if (user !== undefined) state.user = user;
    // With keys and no budgets, calls still run under the key's run scope: the ledger records which
    // key each auction ran for (feedback after a restart is key-scoped by it).
    const scopes =
      budgets?.scopesFor(state.key, user) ?? (keys === undefined ? undefined : { run: keyRunId(state.key) });
    if (request.model === ROUTER_MODEL_ID) {
      state.observation.path = "router";
      if (fastRouted && !stream && (request.tools ?? []).length === 0 && request.response_format === undefined) {
        return routedUpstream(state, request, messages, engineFor(state.key), scopes);
      }
      const target = routerTarget(state, request, scopes);
      return stream ? streamRouted(state, request, messages, target) : invokeRouted(state, messages, target);
    }
    const member = byName.get(request.model);
    if (member === undefined) throw modelNotFound(request.model, modelIds);
    state.observation.path = "pinned";
    state.observation.member = member.name;
    if (member.upstream !== undefined && !stream) {
      return pinnedUpstream(state, request, messages, member, member.upstream, scopes);
    }
    return pinned(state, request, messages, member, scopes);
  }

  // --- gavel/auto through the router ------------------------------------------------------------

  /** The key's router, with the request's tools bound, or a json_schema as a forced tool call. */
  function routerTarget(state: ChatRequestState, request: ChatCompletionRequest, scopes: ScopeIds | undefined): Target {
    const router = routerFor(state.key);
    const format = request.response_format;
    const tools = (request.tools ?? []) as BindToolsInput[];
    let toolAsContent = false;
    let runnable: Runnable = router;
    if (format?.type === "json_schema") {
      if (tools.length > 0) {
        throw invalidRequest(
          "Invalid value for 'response_format': gavel/auto cannot combine tools with a json_schema response format; pin a model for both, or drop one.",
          "response_format",
        );
      }
      // The winner answers by a forced call of a tool whose parameters are the schema; its
      // arguments are the content (the way LangChain's withStructuredOutput works on any model).
      const { name, description, schema } = format.json_schema;
      const tool = {
        type: "function",
        function: {
          name,
          ...(description !== undefined && { description }),
          parameters: schema ?? { type: "object" },
        },
      };
      runnable = router.bindTools([tool], { tool_choice: { type: "function", function: { name } } } as never);
      toolAsContent = true;
    } else if (tools.length > 0) {
      runnable = router.bindTools(
        tools,
        request.tool_choice !== undefined ? ({ tool_choice: request.tool_choice } as never) : undefined,
      );
    }
    return {
      path: "router",
      member: ROUTER_MODEL_ID,
      runnable,
      callOptions: { ...(scopes !== undefined && { budgetScopes: scopes }) },
      toolAsContent,
    };
  }

  /** A non-streamed `gavel/auto` answer: the router's reply, named by the winner and the auction id. */
  async function invokeRouted(state: ChatRequestState, messages: BaseMessage[], target: Target): Promise<Response> {
    const reply = (await target.runnable.invoke(messages, {
      ...target.callOptions,
      signal: state.controller.signal,
    })) as AIMessageChunk;
    const gavel = reply.response_metadata?.gavel as RouterMetadata | undefined;
    const winner = gavel?.auction.winner ?? ROUTER_MODEL_ID;
    const auctionId = gavel?.auction.auctionId;
    const usage = usageOf(reply);
    Object.assign(state.observation, {
      member: winner,
      inputTokens: usage.prompt_tokens,
      outputTokens: usage.completion_tokens,
      ...(gavel !== undefined && { usd: gavel.usage.usd.execution + gavel.usage.usd.auction }),
    });
    if (auctionId !== undefined) {
      state.log.auctionId = auctionId;
      owners?.remember(auctionId, state.key);
    }
    const answer = target.toolAsContent ? toolCallAsContent(reply) : reply;
    if (logPrompts) state.log.answer = textOf(answer.content);
    const completion = toChatCompletion(answer, { id: completionId(), model: winner, created: nowSeconds(), usage });
    complete(state, 200);
    return Response.json(completion, {
      headers: { [WINNER_HEADER]: winner, ...(auctionId !== undefined && { [AUCTION_ID_HEADER]: auctionId }) },
    });
  }

  /** A streamed `gavel/auto` answer: the winner and the auction id come with the first chunk. */
  async function streamRouted(
    state: ChatRequestState,
    request: ChatCompletionRequest,
    messages: BaseMessage[],
    target: Target,
  ): Promise<Response> {
    const iterator = (
      await target.runnable.stream(messages, { ...target.callOptions, signal: state.controller.signal })
    )[Symbol.asyncIterator]() as AsyncIterator<AIMessageChunk>;
    return sendStream(state, request, iterator, {
      toolAsContent: target.toolAsContent,
      whoAnswers(first) {
        const marked = first.response_metadata?.gavel_answer as { auctionId?: string; winner?: string } | undefined;
        const winner = marked?.winner ?? ROUTER_MODEL_ID;
        if (marked?.auctionId !== undefined) {
          state.log.auctionId = marked.auctionId;
          owners?.remember(marked.auctionId, state.key);
        }
        return {
          member: winner,
          headers: {
            [WINNER_HEADER]: winner,
            ...(marked?.auctionId !== undefined && { [AUCTION_ID_HEADER]: marked.auctionId }),
          },
        };
      },
      // The router settles its own reservations, also for a stream the caller stops reading.
      async close(gathered) {
        const gavel = gathered?.response_metadata?.gavel as RouterMetadata | undefined;
        const usage = gathered === undefined ? undefined : usageOf(gathered);
        Object.assign(state.observation, {
          ...(usage && { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens }),
          ...(gavel !== undefined && { usd: gavel.usage.usd.execution + gavel.usage.usd.auction }),
        });
        await iterator.return?.()?.catch(() => undefined);
        return usage;
      },
    });
  }

  // --- a pinned member ---------------------------------------------------------------------------

  /** A call pinned to `member`: reserved on the key's budget, settled at the provider's usage. */
  async function pinned(
    state: ChatRequestState,
    request: ChatCompletionRequest,
    messages: BaseMessage[],
    member: ServerMember,
    scopes: ScopeIds | undefined,
  ): Promise<Response> {
    const name = names.get(member.name) ?? member.name;
    const { model, maxOutputTokens } = pinnedModel(member, request);
    const tools = (request.tools ?? []) as BindToolsInput[];
    let runnable: Runnable = model;
    if (tools.length > 0) {
      if (typeof model.bindTools !== "function") {
        throw invalidRequest(`Invalid value for 'tools': the model '${member.name}' does not support tools.`, "tools");
      }
      runnable = model.bindTools(tools, {
        ...(request.tool_choice !== undefined && { tool_choice: request.tool_choice }),
        ...(request.parallel_tool_calls !== undefined && { parallel_tool_calls: request.parallel_tool_calls }),
      } as never);
    }
    const isOpenAI = model._llmType() === "openai";
    const stop = request.stop === undefined || request.stop === null ? undefined : [request.stop].flat();
    const callOptions: Record<string, unknown> = {
      ...(stop !== undefined && { stop }),
      ...(isOpenAI && request.response_format !== undefined && { response_format: request.response_format }),
      ...(isOpenAI && typeof request.seed === "number" && { seed: request.seed }),
    };
    const budget = budgets?.budgetFor(state.key);
    const bill = billAbandonedCalls(member);
    let reservation: Reservation | undefined;
    if (budget !== undefined) {
      const inputTokens = (await reservedPromptTokens(model, messages)) + countToolTokens(tools, name);
      reservation = await budget.reserve({
        model: name,
        inputTokens,
        maxOutputTokens,
        label: "server.answer",
        ...(scopes !== undefined && { scopes }),
      });
    }
    const account = pinnedAccount(state, member, scopes, reservation);
    const headers = { [WINNER_HEADER]: member.name };

    if (request.stream === true) {
      let iterator: AsyncIterator<AIMessageChunk>;
      try {
        // The request's own signal: a client that leaves later still aborts the upstream stream.
        const signal = state.controller.signal;
        iterator = (await raceAbort(runnable.stream(messages, { ...callOptions, signal }), signal))[
          Symbol.asyncIterator
        ]() as AsyncIterator<AIMessageChunk>;
      } catch (error) {
        if (reservation !== undefined && budget !== undefined) await releaseQuietly(budget, reservation);
        throw error;
      }
      return sendStream(state, request, iterator, {
        toolAsContent: false,
        whoAnswers: () => ({ member: member.name, headers }),
        async close(gathered, how) {
          void iterator.return?.()?.catch(() => undefined);
          const streamed = gathered ?? undefined;
          const usage = usageFromMessage(
            {
              content: streamed?.content ?? "",
              tool_calls: streamed?.tool_calls ?? [],
              usage_metadata: streamed?.usage_metadata,
            },
            messages,
            name,
          );
          let settlement: Settlement | undefined;
          if (reservation !== undefined && budget !== undefined) {
            if (how === "complete") settlement = await settleQuietly(budget, reservation, usage);
            else if (how === "failed" && gathered === undefined) await releaseQuietly(budget, reservation);
            else {
              // Cut short (client gone, deadline, shutdown, a failure mid-stream): the provider
              // generated what was streamed, and stopped when the connection closed.
              settlement = await closeAbandoned(budget, reservation, {
                bill,
                streamed: usage,
              });
            }
          }
          const usd = how === "failed" && gathered === undefined ? 0 : account(usage, settlement, how !== "complete");
          Object.assign(state.observation, {
            inputTokens: usage.inputTokens,
            outputTokens: usage.outputTokens,
            usd,
          });
          return completionUsage(usage);
        },
      });
    }

    // The call runs on `hardStop`: a client that leaves stops the wait, not the call.
    const upstream = state.hardStop.signal;
    const { result: reply, usage } = await callAndSettle(
      state,
      member,
      { budget, reservation, bill, account },
      () => runnable.invoke(messages, { ...callOptions, signal: upstream }) as Promise<AIMessage>,
      (answer) => usageFromMessage(answer, messages, name),
    );
    if (logPrompts) state.log.answer = textOf(reply.content);
    const completion = toChatCompletion(reply, {
      id: completionId(),
      model: member.name,
      created: nowSeconds(),
      usage: completionUsage(usage),
    });
    complete(state, 200);
    return Response.json(completion, { headers });
  }

  /**
   * The member to call for `request` and the output cap to reserve: rebuilt (cached) with the
   * request's `max_tokens` / `max_completion_tokens` (never above the member's own cap),
   * `temperature` and `top_p` when the member takes them at construction (as `ChatOpenAI` does).
   */
  function pinnedModel(member: ServerMember, request: ChatCompletionRequest) {
    const declared = declaredOutputCap(member.model);
    const requested = request.max_completion_tokens ?? request.max_tokens ?? undefined;
    const settings: Record<string, number> = {};
    const fields = member.model as unknown as Record<string, unknown>;
    if (requested !== undefined && (declared === undefined || requested < declared)) settings.maxTokens = requested;
    // No cap anywhere: the reserved default goes upstream, so usage never exceeds the reservation.
    else if (declared === undefined) settings.maxTokens = DEFAULT_PINNED_MAX_TOKENS;
    if (
      typeof request.temperature === "number" &&
      "temperature" in fields &&
      fields.temperature !== request.temperature
    )
      settings.temperature = request.temperature;
    if (typeof request.top_p === "number" && "topP" in fields && fields.topP !== request.top_p)
      settings.topP = request.top_p;
    if (Object.keys(settings).length === 0) {
      return { model: member.model, maxOutputTokens: declared ?? DEFAULT_PINNED_MAX_TOKENS };
    }
    const copy = samplingCopy(member, settings);
    if (copy === undefined) return { model: member.model, maxOutputTokens: declared ?? DEFAULT_PINNED_MAX_TOKENS };
    return { model: copy, maxOutputTokens: declaredOutputCap(copy) ?? declared ?? DEFAULT_PINNED_MAX_TOKENS };
  }

  // --- sending a stream --------------------------------------------------------------------------

  /**
   * Send a LangChain stream as OpenAI server-sent events. Waits for the first chunk before sending
   * headers (errors before it are plain OpenAI errors; for `gavel/auto` the auction is decided by
   * then). A client that leaves aborts the upstream call; `close` runs once, whatever ends the stream.
   */
  async function sendStream(
    state: ChatRequestState,
    request: ChatCompletionRequest,
    iterator: AsyncIterator<AIMessageChunk>,
    plan: {
      toolAsContent: boolean;
      whoAnswers(first: AIMessageChunk): { member: string; headers: Record<string, string> };
      close(
        gathered: AIMessageChunk | undefined,
        how: "complete" | "abandoned" | "failed",
      ): Promise<CompletionUsage | undefined>;
    },
  ): Promise<Response> {
    const signal = state.controller.signal;
    let first: IteratorResult<AIMessageChunk>;
    try {
      first = await nextOrAbort(iterator, signal);
    } catch (error) {
      await plan.close(undefined, signal.aborted ? "abandoned" : "failed");
      throw error;
    }
    const { member, headers } = first.done
      ? { member: state.observation.member ?? ROUTER_MODEL_ID, headers: {} }
      : plan.whoAnswers(first.value);
    state.observation.member = member;
    const encoder = createChunkEncoder({
      id: completionId(),
      model: member,
      created: nowSeconds(),
      includeUsage: request.stream_options?.include_usage === true,
    });
    const bytes = new TextEncoder();
    let gathered: AIMessageChunk | undefined;
    let closing: Promise<CompletionUsage | undefined> | undefined;
    const closeOnce = (how: "complete" | "abandoned" | "failed") => {
      if (closing === undefined) {
        closing = plan.close(gathered, how);
        trackSettlement(closing); // drain waits for it
      }
      return closing;
    };
    const take = (chunk: AIMessageChunk) => {
      gathered = gathered === undefined ? chunk : gathered.concat(chunk);
      return encoder.chunk(plan.toolAsContent ? toolChunkAsContent(chunk) : chunk);
    };
    let opened = false;
    let pulling = false;
    let streamController: ReadableStreamDefaultController<Uint8Array> | undefined;
    const ended = (status: number, error?: unknown) => {
      signal.removeEventListener("abort", onStopped);
      if (opened) metrics?.streamClosed?.();
      opened = false;
      complete(state, status, error);
    };
    // A deadline, shutdown or leaving client while no pull is pending (a client that stopped
    // reading: the socket is backpressured, pull is not called): settle here, end the stream.
    const onStopped = () => {
      if (pulling) return; // the pending pull settles and ends the stream
      const reason: unknown = signal.reason;
      void closeOnce("abandoned").then(async () => {
        const status =
          reason instanceof RequestAborted && reason.why === "client" ? 499 : (await toHttpError(reason, state)).status;
        ended(status, status >= 500 ? reason : undefined);
        try {
          streamController?.error(reason);
        } catch {
          // Already closed.
        }
      });
    };
    if (signal.aborted) queueMicrotask(onStopped);
    else signal.addEventListener("abort", onStopped, { once: true });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        streamController = controller;
        opened = true;
        metrics?.streamOpened?.();
        if (!first.done) controller.enqueue(bytes.encode(take(first.value)));
      },
      async pull(controller) {
        pulling = true;
        try {
          // Read until there is something to send: a pull that enqueues nothing is not called again.
          for (;;) {
            const next = first.done ? first : await nextOrAbort(iterator, signal);
            if (next.done) {
              const usage = (await closeOnce("complete")) ?? usageOf(gathered ?? { usage_metadata: undefined });
              controller.enqueue(bytes.encode(encoder.end(usage)));
              controller.close();
              ended(200);
              return;
            }
            const events = take(next.value);
            if (events.length > 0) {
              controller.enqueue(bytes.encode(events));
              return;
            }
          }
        } catch (error) {
          const how = signal.aborted ? "abandoned" : "failed";
          await closeOnce(how);
          const reason = signal.aborted ? signal.reason : error;
          if (reason instanceof RequestAborted && reason.why === "client") {
            ended(499);
            try {
              controller.close();
            } catch {
              // Already ended.
            }
            return;
          }
          // Headers are sent: the error goes in the stream, as OpenAI sends one.
          const http = await toHttpError(reason, state);
          try {
            controller.enqueue(bytes.encode(sseEvent(http.body) + SSE_DONE));
            controller.close();
          } catch {
            // The client is gone.
          }
          ended(http.status, reason);
        } finally {
          pulling = false;
        }
      },
      async cancel(reason) {
        if (!signal.aborted) state.controller.abort(new RequestAborted("client"));
        await closeOnce("abandoned");
        ended(499, undefined);
        void reason;
      },
    });
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
        ...headers,
      },
    });
  }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** `iterator.next()`, rejected with the signal's reason as soon as it aborts (even if the stream ignores it). */
function nextOrAbort<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
  return signal.aborted ? Promise.reject(signal.reason) : raceAbort(iterator.next(), signal);
}

/** `work`, rejected with the signal's reason as soon as it aborts (even if `work` ignores it). */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** A forced tool call's arguments as the answer's content (json_schema on `gavel/auto`). */
function toolCallAsContent(reply: AIMessageChunk): AIMessageChunk {
  const call = reply.tool_calls?.[0];
  const content = call === undefined ? textOf(reply.content) : JSON.stringify(call.args ?? {});
  return Object.assign(Object.create(Object.getPrototypeOf(reply)), reply, {
    content,
    tool_calls: [],
    tool_call_chunks: [],
    response_metadata: { ...reply.response_metadata, finish_reason: "stop" },
  }) as AIMessageChunk;
}

/** A chunk of a forced tool call, as a content delta (json_schema on `gavel/auto`, streamed). */
function toolChunkAsContent(chunk: AIMessageChunk): AIMessageChunk {
  const args = (chunk.tool_call_chunks ?? []).map((call) => call.args ?? "").join("");
  const finish = chunk.response_metadata?.finish_reason;
  return Object.assign(Object.create(Object.getPrototypeOf(chunk)), chunk, {
    content: args,
    tool_calls: [],
    tool_call_chunks: [],
    response_metadata: { ...chunk.response_metadata, ...(finish !== undefined && { finish_reason: "stop" }) },
  }) as AIMessageChunk;
}
