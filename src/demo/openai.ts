/**
 * The OpenAI-compatible surface of the demo model server: request validation
 * for chat completions, text completions and embeddings, and the response
 * object shapes. Pure functions; the HTTP plumbing lives in `routes.ts`.
 *
 * Validation follows OpenAI where a client would notice (400 with `param`
 * naming the field) and is lenient where it would not: sampling parameters
 * such as `temperature` are accepted and ignored, and any `model` name is
 * served by the one demo model, so SDK examples work without edits.
 */
import { randomBytes } from 'node:crypto';
import { countTokens } from './assistant.js';
import { EMBEDDING_DIMENSIONS } from './embeddings.js';
import { badRequest } from './http-io.js';

/** The one model this server serves. */
export const MODEL_ID = 'enclave-demo-1';

// Fixed creation time (2025-01-01T00:00:00Z) so the model list is stable.
const MODEL_CREATED = 1_735_689_600;

/** An OpenAI model object. */
export interface ModelObject {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: string;
}

/** The model object for `MODEL_ID`. */
export function modelObject(): ModelObject {
  return { id: MODEL_ID, object: 'model', created: MODEL_CREATED, owned_by: 'enclave-gate' };
}

/** Token accounting (whitespace tokens; see `countTokens`). */
export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

/** Builds a `Usage` from prompt and completion token counts. */
export function usage(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** Options shared by chat and text completions. */
export interface GenerationRequest {
  readonly stream: boolean;
  /** `stream_options.include_usage`: send a final usage-only chunk. */
  readonly includeUsage: boolean;
  /** Cap on completion tokens, if the client set one. */
  readonly maxTokens: number | undefined;
}

/** A validated chat completion request. */
export interface ChatRequest extends GenerationRequest {
  /** Text of the last user message: what the demo model answers. */
  readonly prompt: string;
  /** Tokens across all messages, for `usage.prompt_tokens`. */
  readonly promptTokens: number;
}

/** A validated text completion request. */
export interface CompletionRequest extends GenerationRequest {
  /** One choice is produced per prompt. */
  readonly prompts: readonly string[];
}

/** A validated embeddings request. */
export interface EmbeddingRequest {
  readonly inputs: readonly string[];
  readonly dimensions: number;
  readonly encoding: 'float' | 'base64';
}

const MAX_BATCH = 2048;

function optionalBoolean(body: Record<string, unknown>, key: string): boolean {
  const value = body[key];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw badRequest(`${key} must be a boolean`, key);
  return value;
}

function optionalPositiveInteger(body: Record<string, unknown>, key: string): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw badRequest(`${key} must be a positive integer`, key);
  }
  return value;
}

function generationOptions(body: Record<string, unknown>): GenerationRequest {
  const model = body['model'];
  if (model !== undefined && typeof model !== 'string') throw badRequest('model must be a string', 'model');
  const n = body['n'];
  if (n !== undefined && n !== null && n !== 1) throw badRequest('the demo model supports only n=1', 'n');
  const stream = optionalBoolean(body, 'stream');
  const streamOptions = body['stream_options'];
  let includeUsage = false;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (typeof streamOptions !== 'object' || Array.isArray(streamOptions)) {
      throw badRequest('stream_options must be an object', 'stream_options');
    }
    includeUsage = optionalBoolean(streamOptions as Record<string, unknown>, 'include_usage');
  }
  // Newer clients send max_completion_tokens; older ones max_tokens.
  const maxTokens =
    optionalPositiveInteger(body, 'max_completion_tokens') ?? optionalPositiveInteger(body, 'max_tokens');
  return { stream, includeUsage, maxTokens };
}

// Text of a message's `content`: a string, null (assistant tool calls), or an
// array of parts of which only the text parts matter to a text model.
function messageText(content: unknown, param: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw badRequest(`${param} must be a string or an array of content parts`, param);
  return content
    .map((part: unknown, i) => {
      if (typeof part !== 'object' || part === null) throw badRequest(`${param}[${i}] must be an object`, param);
      const { type, text } = part as Record<string, unknown>;
      if (type !== 'text') return '';
      if (typeof text !== 'string') throw badRequest(`${param}[${i}].text must be a string`, param);
      return text;
    })
    .filter((text) => text !== '')
    .join('\n');
}

/** Validates a `/v1/chat/completions` body. Throws a 400 `HttpError`. */
export function parseChatRequest(body: Record<string, unknown>): ChatRequest {
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) {
    throw badRequest('messages must be a non-empty array', 'messages');
  }
  let promptTokens = 0;
  let prompt = '';
  messages.forEach((message: unknown, i) => {
    const param = `messages[${i}]`;
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      throw badRequest(`${param} must be an object`, param);
    }
    const { role, content } = message as Record<string, unknown>;
    if (typeof role !== 'string' || role === '') throw badRequest(`${param}.role must be a string`, `${param}.role`);
    const text = messageText(content, `${param}.content`);
    promptTokens += countTokens(text);
    if (role === 'user') prompt = text;
  });
  return { ...generationOptions(body), prompt, promptTokens };
}

/** Validates a `/v1/completions` body. Throws a 400 `HttpError`. */
export function parseCompletionRequest(body: Record<string, unknown>): CompletionRequest {
  const prompt = body['prompt'];
  let prompts: string[];
  if (typeof prompt === 'string') {
    prompts = [prompt];
  } else if (
    Array.isArray(prompt) &&
    prompt.length > 0 &&
    prompt.length <= MAX_BATCH &&
    prompt.every((p) => typeof p === 'string')
  ) {
    prompts = prompt as string[];
  } else {
    // Token-id prompts are valid for OpenAI but meaningless without a tokenizer.
    throw badRequest(`prompt must be a string or an array of 1–${MAX_BATCH} strings`, 'prompt');
  }
  return { ...generationOptions(body), prompts };
}

/** Validates a `/v1/embeddings` body. Throws a 400 `HttpError`. */
export function parseEmbeddingRequest(body: Record<string, unknown>): EmbeddingRequest {
  const input = body['input'];
  const inputs = typeof input === 'string' ? [input] : input;
  if (
    !Array.isArray(inputs) ||
    inputs.length === 0 ||
    inputs.length > MAX_BATCH ||
    !inputs.every((text) => typeof text === 'string')
  ) {
    throw badRequest(`input must be a string or an array of 1–${MAX_BATCH} strings`, 'input');
  }
  // OpenAI rejects empty strings too; an empty text has no meaningful vector.
  if (inputs.some((text: string) => text.trim() === '')) {
    throw badRequest('input must not contain empty strings', 'input');
  }
  const dimensions = body['dimensions'] ?? EMBEDDING_DIMENSIONS;
  if (
    typeof dimensions !== 'number' ||
    !Number.isInteger(dimensions) ||
    dimensions < 1 ||
    dimensions > EMBEDDING_DIMENSIONS
  ) {
    throw badRequest(`dimensions must be an integer between 1 and ${EMBEDDING_DIMENSIONS}`, 'dimensions');
  }
  const encoding = body['encoding_format'] ?? 'float';
  if (encoding !== 'float' && encoding !== 'base64') {
    throw badRequest('encoding_format must be "float" or "base64"', 'encoding_format');
  }
  const model = body['model'];
  if (model !== undefined && typeof model !== 'string') throw badRequest('model must be a string', 'model');
  return { inputs: inputs as string[], dimensions, encoding };
}

/** A reply cut into streamable pieces, honouring `maxTokens`. */
export interface ReplyPieces {
  /** Word pieces, each with its leading whitespace; they concatenate to `text`. */
  readonly pieces: readonly string[];
  readonly text: string;
  readonly finishReason: 'stop' | 'length';
}

/**
 * Splits a reply into word pieces (OpenAI tokens also carry their leading
 * space, so concatenating deltas reproduces the text) and truncates it to
 * `maxTokens` pieces.
 */
export function replyPieces(reply: string, maxTokens: number | undefined): ReplyPieces {
  const all = reply.match(/\s*\S+/g) ?? [];
  const pieces = maxTokens === undefined ? all : all.slice(0, maxTokens);
  return {
    pieces,
    text: pieces.join(''),
    finishReason: pieces.length < all.length ? 'length' : 'stop',
  };
}

/** A fresh response id such as `chatcmpl-…` (random; only replies are deterministic). */
export function responseId(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`;
}

/** Current time in Unix seconds, the unit of OpenAI's `created`. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
