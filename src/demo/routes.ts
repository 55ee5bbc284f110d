/**
 * Request handlers of the demo model server, and the route table that maps
 * method and path to them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { composeReply, countTokens } from './assistant.js';
import { embed, toBase64Float32 } from './embeddings.js';
import { scoreTransaction, type FraudModelFile } from './fraud-model.js';
import { badRequest, HttpError, readJsonObject, sendJson } from './http-io.js';
import {
  MODEL_ID,
  modelObject,
  nowSeconds,
  parseChatRequest,
  parseCompletionRequest,
  parseEmbeddingRequest,
  replyPieces,
  responseId,
  usage,
} from './openai.js';
import { openSse } from './sse.js';
import { validateTransaction } from './transaction.js';

/** What handlers need from the server. */
export interface RouteContext {
  readonly model: FraudModelFile;
  readonly bodyLimit: number;
  /** Delay before the next streamed chunk, in ms. */
  readonly nextDelayMs: () => number;
}

/** A request handler. */
export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RouteContext) => Promise<void>;

/** Most transactions one `/inference` call may score. */
export const MAX_INFERENCE_BATCH = 1000;

const listModels: Handler = async (_req, res) => {
  sendJson(res, 200, { object: 'list', data: [modelObject()] });
};

/** `GET /v1/models/:id`; `id` is the already-decoded path segment. */
export function getModel(id: string): Handler {
  return async (_req, res) => {
    if (id !== MODEL_ID) {
      throw new HttpError(404, 'invalid_request_error', `The model '${id}' does not exist`, 'model');
    }
    sendJson(res, 200, modelObject());
  };
}

const health: Handler = async (_req, res) => {
  sendJson(res, 200, { status: 'ok' });
};

const chatCompletions: Handler = async (req, res, ctx) => {
  const request = parseChatRequest(await readJsonObject(req, ctx.bodyLimit));
  const reply = replyPieces(composeReply(request.prompt, ctx.model), request.maxTokens);
  const id = responseId('chatcmpl');
  const created = nowSeconds();
  const tokens = usage(request.promptTokens, reply.pieces.length);

  if (!request.stream) {
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: MODEL_ID,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: reply.text, refusal: null },
          logprobs: null,
          finish_reason: reply.finishReason,
        },
      ],
      usage: tokens,
    });
    return;
  }

  const stream = openSse(res, ctx.nextDelayMs);
  // With include_usage, OpenAI sets `usage: null` on every chunk and sends the
  // totals in one extra chunk with no choices; clients rely on that shape.
  const extra = request.includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finishReason: string | null): Record<string, unknown> => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: MODEL_ID,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...extra,
  });
  if (!(await stream.send(chunk({ role: 'assistant', content: '' }, null)))) return;
  for (const piece of reply.pieces) {
    if (!(await stream.send(chunk({ content: piece }, null)))) return;
  }
  if (!(await stream.send(chunk({}, reply.finishReason)))) return;
  if (request.includeUsage) {
    const final = { id, object: 'chat.completion.chunk', created, model: MODEL_ID, choices: [], usage: tokens };
    if (!(await stream.send(final))) return;
  }
  await stream.finish();
};

const completions: Handler = async (req, res, ctx) => {
  const request = parseCompletionRequest(await readJsonObject(req, ctx.bodyLimit));
  const replies = request.prompts.map((prompt) => replyPieces(composeReply(prompt, ctx.model), request.maxTokens));
  const id = responseId('cmpl');
  const created = nowSeconds();
  const promptTokens = request.prompts.reduce((sum, prompt) => sum + countTokens(prompt), 0);
  const tokens = usage(
    promptTokens,
    replies.reduce((sum, reply) => sum + reply.pieces.length, 0),
  );

  if (!request.stream) {
    sendJson(res, 200, {
      id,
      object: 'text_completion',
      created,
      model: MODEL_ID,
      choices: replies.map((reply, index) => ({
        text: reply.text,
        index,
        logprobs: null,
        finish_reason: reply.finishReason,
      })),
      usage: tokens,
    });
    return;
  }

  const stream = openSse(res, ctx.nextDelayMs);
  const extra = request.includeUsage ? { usage: null } : {};
  const chunk = (index: number, text: string, finishReason: string | null): Record<string, unknown> => ({
    id,
    object: 'text_completion',
    created,
    model: MODEL_ID,
    choices: [{ text, index, logprobs: null, finish_reason: finishReason }],
    ...extra,
  });
  // Choices stream one after another; each chunk names its choice index, so a
  // client reassembles them the same way as interleaved chunks.
  for (const [index, reply] of replies.entries()) {
    for (const piece of reply.pieces) {
      if (!(await stream.send(chunk(index, piece, null)))) return;
    }
    if (!(await stream.send(chunk(index, '', reply.finishReason)))) return;
  }
  if (request.includeUsage) {
    const final = { id, object: 'text_completion', created, model: MODEL_ID, choices: [], usage: tokens };
    if (!(await stream.send(final))) return;
  }
  await stream.finish();
};

const embeddings: Handler = async (req, res, ctx) => {
  const request = parseEmbeddingRequest(await readJsonObject(req, ctx.bodyLimit));
  const promptTokens = request.inputs.reduce((sum, text) => sum + countTokens(text), 0);
  sendJson(res, 200, {
    object: 'list',
    data: request.inputs.map((text, index) => {
      const vector = embed(text, request.dimensions);
      return {
        object: 'embedding',
        index,
        embedding: request.encoding === 'base64' ? toBase64Float32(vector) : vector,
      };
    }),
    model: MODEL_ID,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
};

const inference: Handler = async (req, res, ctx) => {
  const body = await readJsonObject(req, ctx.bodyLimit);
  const single = body['transaction'];
  const batch = body['transactions'];
  if ((single === undefined) === (batch === undefined)) {
    throw badRequest('send exactly one of "transaction" (object) or "transactions" (array)');
  }
  if (single !== undefined) {
    const result = validateTransaction(single, 'transaction');
    if (!result.ok) throw badRequest(result.errors.join('; '), 'transaction');
    sendJson(res, 200, { model: MODEL_ID, result: scoreTransaction(ctx.model, result.transaction) });
    return;
  }
  if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_INFERENCE_BATCH) {
    throw badRequest(`transactions must be an array of 1–${MAX_INFERENCE_BATCH} objects`, 'transactions');
  }
  // Validate everything before scoring anything: a batch either scores as a
  // whole or fails with every problem listed, never half-way.
  const results = batch.map((item: unknown, i) => validateTransaction(item, `transactions[${i}]`));
  const errors = results.flatMap((r) => (r.ok ? [] : r.errors));
  if (errors.length > 0) {
    const shown = errors.slice(0, 20).join('; ');
    const more = errors.length > 20 ? ` (and ${errors.length - 20} more)` : '';
    throw badRequest(`${shown}${more}`, 'transactions');
  }
  sendJson(res, 200, {
    model: MODEL_ID,
    results: results.map((r) => (r.ok ? scoreTransaction(ctx.model, r.transaction) : null)),
  });
};

/** Handlers by path, then by method. */
export const ROUTES: Readonly<Record<string, Readonly<Record<string, Handler>>>> = {
  '/healthz': { GET: health },
  '/v1/models': { GET: listModels },
  '/v1/chat/completions': { POST: chatCompletions },
  '/v1/completions': { POST: completions },
  '/v1/embeddings': { POST: embeddings },
  '/inference': { POST: inference },
};

/**
 * Finds the handler for a request. Throws a 404 for unknown paths and a 405
 * (with `Allow`) for a known path with the wrong method. HEAD is served by the
 * GET handler; node:http drops the body.
 */
export function resolveRoute(method: string, pathname: string): Handler {
  let methods = ROUTES[pathname];
  if (methods === undefined && pathname.startsWith('/v1/models/')) {
    const raw = pathname.slice('/v1/models/'.length);
    let id: string | undefined;
    try {
      id = raw === '' || raw.includes('/') ? undefined : decodeURIComponent(raw);
    } catch {
      // Malformed percent-encoding: treat as an unknown path.
      id = undefined;
    }
    if (id !== undefined) methods = { GET: getModel(id) };
  }
  if (methods === undefined) {
    throw new HttpError(404, 'not_found_error', `no route for ${method} ${pathname}`);
  }
  const handler = methods[method === 'HEAD' ? 'GET' : method];
  if (handler === undefined) {
    const allow = Object.keys(methods);
    if (allow.includes('GET')) allow.push('HEAD');
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${pathname}`, null, {
      allow: allow.join(', '),
    });
  }
  return handler;
}
