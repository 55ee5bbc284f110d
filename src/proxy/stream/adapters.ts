/**
 * What the stream protocols look like to the policy transform: where an event
 * carries assistant text, when a text channel is finished, and how to end a
 * stream with an error the protocol's clients understand.
 *
 * Text is found by the *shape* of each event rather than by the request path,
 * so that a model server answering on an unexpected route, or mixing shapes,
 * cannot slip text past the window: every event is checked against every shape.
 * Strings that are not assistant text are still scanned, per event
 * (transform.ts); only assistant text needs the cross-event window because only
 * it is split across events.
 */
import type { StreamProtocol } from '../../policy/input.js';

/** One string field of an event that continues a text channel. */
export interface TextSlot {
  /** Stable id of the text channel across events, e.g. `choices.0.content`. */
  readonly channel: string;
  /** Reference tokens from the event root to the string. */
  readonly tokens: readonly (string | number)[];
  readonly text: string;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function indexOr(value: unknown, fallback: number | string): number | string {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : typeof value === 'string' ? value : fallback;
}

/** Text fields of an OpenAI chat delta that stream token by token. */
const CHAT_DELTA_TEXT = ['content', 'reasoning_content', 'reasoning', 'refusal'] as const;

/** OpenAI chat.completion.chunk and legacy text_completion chunks. */
function openAiChoices(event: Json, slots: TextSlot[]): void {
  const choices = event['choices'];
  if (!Array.isArray(choices)) return;
  choices.forEach((choice: unknown, position) => {
    if (!isRecord(choice)) return;
    const idx = indexOr(choice['index'], position);
    if (typeof choice['text'] === 'string') slots.push({ channel: `choices.${idx}.text`, tokens: ['choices', position, 'text'], text: choice['text'] });
    const delta = choice['delta'];
    if (!isRecord(delta)) return;
    for (const field of CHAT_DELTA_TEXT) {
      const text = delta[field];
      if (typeof text === 'string') slots.push({ channel: `choices.${idx}.${field}`, tokens: ['choices', position, 'delta', field], text });
    }
    const calls = delta['tool_calls'];
    if (!Array.isArray(calls)) return;
    calls.forEach((call: unknown, k) => {
      if (!isRecord(call) || !isRecord(call['function'])) return;
      const args = call['function']['arguments'];
      if (typeof args === 'string') {
        slots.push({ channel: `choices.${idx}.tool_calls.${indexOr(call['index'], k)}.arguments`, tokens: ['choices', position, 'delta', 'tool_calls', k, 'function', 'arguments'], text: args });
      }
    });
  });
}

/** OpenAI /v1/responses: every `*.delta` event with a string `delta` (output text, refusal, function arguments, reasoning summaries, ...). */
function openAiResponses(event: Json, slots: TextSlot[]): void {
  const type = event['type'];
  if (typeof type !== 'string' || !type.endsWith('.delta') || typeof event['delta'] !== 'string') return;
  slots.push({ channel: responsesChannel(type.slice(0, -'.delta'.length), event), tokens: ['delta'], text: event['delta'] });
}

function responsesChannel(kind: string, event: Json): string {
  const item = indexOr(event['output_index'], indexOr(event['item_id'], 0));
  const part = indexOr(event['content_index'], indexOr(event['summary_index'], 0));
  return `${kind}.${item}.${part}`;
}

/** Text fields of an Anthropic content_block_delta, by delta type. */
const ANTHROPIC_DELTA_TEXT = ['text', 'partial_json', 'thinking'] as const;

/** Anthropic /v1/messages `content_block_delta`. */
function anthropic(event: Json, slots: TextSlot[]): void {
  if (event['type'] !== 'content_block_delta' || !isRecord(event['delta'])) return;
  const idx = indexOr(event['index'], 0);
  for (const field of ANTHROPIC_DELTA_TEXT) {
    const text = event['delta'][field];
    if (typeof text === 'string') slots.push({ channel: `content_block.${idx}.${field}`, tokens: ['delta', field], text });
  }
}

/** Ollama /api/chat (`message.content`, `message.thinking`) and /api/generate (`response`, `thinking`). */
function ollama(event: Json, slots: TextSlot[]): void {
  const message = event['message'];
  if (isRecord(message)) {
    for (const field of ['content', 'thinking'] as const) {
      if (typeof message[field] === 'string') slots.push({ channel: `message.${field}`, tokens: ['message', field], text: message[field] });
    }
  }
  if (typeof event['response'] === 'string') slots.push({ channel: 'response', tokens: ['response'], text: event['response'] });
  if (typeof event['thinking'] === 'string') slots.push({ channel: 'thinking', tokens: ['thinking'], text: event['thinking'] });
}

/** Every assistant-text field of a parsed event, under every known shape. */
export function textSlots(event: unknown): TextSlot[] {
  const slots: TextSlot[] = [];
  if (!isRecord(event)) return slots;
  openAiChoices(event, slots);
  openAiResponses(event, slots);
  anthropic(event, slots);
  ollama(event, slots);
  return slots;
}

/**
 * Which channels an event closes: `'all'` when the whole stream's text is
 * over, a list of channel-id prefixes, or nothing. Closing is only a latency
 * matter (a closed channel releases its held tail at once); at the end of the
 * stream every channel is closed anyway.
 */
export function closedChannels(event: unknown, sseData: string | undefined): 'all' | string[] {
  if (sseData === '[DONE]') return 'all';
  if (!isRecord(event)) return [];
  const type = event['type'];
  if (type === 'message_stop' || type === 'response.completed' || type === 'response.failed' || type === 'response.incomplete') return 'all';
  if (event['done'] === true) return 'all';
  if (type === 'content_block_stop') return [`content_block.${indexOr(event['index'], 0)}.`];
  if (typeof type === 'string' && type.endsWith('.done') && type.startsWith('response.')) {
    return [`${responsesChannel(type.slice(0, -'.done'.length), event)}`];
  }
  const closed: string[] = [];
  const choices = event['choices'];
  if (Array.isArray(choices)) {
    choices.forEach((choice: unknown, position) => {
      if (isRecord(choice) && choice['finish_reason'] !== null && choice['finish_reason'] !== undefined) {
        closed.push(`choices.${indexOr(choice['index'], position)}.`);
      }
    });
  }
  return closed;
}

/** Paths whose response is an Anthropic-style or Responses stream; used before any event identifies it. */
const PATH_PROTOCOLS: ReadonlyArray<readonly [RegExp, StreamProtocol]> = [
  [/\/v1\/messages$/, 'anthropic-messages'],
  [/\/v1\/responses$/, 'openai-responses'],
  [/\/(v1\/)?(chat\/)?completions$/, 'openai-chat'],
  [/\/api\/(chat|generate)$/, 'ollama'],
];

/** The protocol suggested by the request path, or 'unknown'. */
export function protocolFromPath(path: string): StreamProtocol {
  for (const [pattern, protocol] of PATH_PROTOCOLS) if (pattern.test(path)) return protocol;
  return 'unknown';
}

/** The protocol an event's shape identifies, or undefined. */
export function protocolFromEvent(event: unknown, format: 'sse' | 'ndjson'): StreamProtocol | undefined {
  if (format === 'ndjson') return 'ollama';
  if (!isRecord(event)) return undefined;
  const type = event['type'];
  if (typeof type === 'string') {
    if (type.startsWith('response.')) return 'openai-responses';
    if (type.startsWith('message_') || type.startsWith('content_block_') || type === 'ping') return 'anthropic-messages';
  }
  if (Array.isArray(event['choices'])) return 'openai-chat';
  return undefined;
}

/** What a stream-ending error says; never any response text. */
export interface StreamErrorInfo {
  /** EG_RESPONSE_DENIED or EG_POLICY_FAILURE. */
  readonly code: string;
  readonly message: string;
  readonly requestId: string;
  readonly reasons: readonly string[];
  /** Sequence number for protocols that number events (/v1/responses). */
  readonly sequence: number;
}

/**
 * The closing error for a protocol, as the bytes to send (docs/streaming.md):
 * - OpenAI chat/completions and unknown SSE: `data: {"error": {...}}`, the shape
 *   the OpenAI SDKs raise as an APIError, then `data: [DONE]` for clients that
 *   wait for it;
 * - /v1/responses: `event: error` with a Responses `{"type": "error", ...}` event;
 * - Anthropic: `event: error` with `{"type": "error", "error": {...}}`, the code
 *   also in `error.details.error_code`, where the Anthropic SDKs read a code;
 * - NDJSON (Ollama): a last line `{"error": "..."}`, which Ollama clients raise.
 */
export function errorEvent(protocol: StreamProtocol, format: 'sse' | 'ndjson', info: StreamErrorInfo): Buffer {
  if (format === 'ndjson') {
    // Ollama clients surface only `error`, so it carries the code too.
    return Buffer.from(`${JSON.stringify({ error: `${info.code}: ${info.message}`, code: info.code, request_id: info.requestId, reasons: info.reasons })}\n`, 'utf8');
  }
  const sse = (data: unknown, type?: string): string => `${type === undefined ? '' : `event: ${type}\n`}data: ${JSON.stringify(data)}\n\n`;
  switch (protocol) {
    case 'anthropic-messages':
      return Buffer.from(
        sse({ type: 'error', error: { type: info.code === 'EG_RESPONSE_DENIED' ? 'permission_error' : 'api_error', message: info.message, code: info.code, details: { error_code: info.code }, request_id: info.requestId, reasons: info.reasons } }, 'error'),
        'utf8',
      );
    case 'openai-responses':
      return Buffer.from(
        sse({ type: 'error', code: info.code, message: info.message, param: null, sequence_number: info.sequence, request_id: info.requestId, reasons: info.reasons }, 'error'),
        'utf8',
      );
    default:
      return Buffer.from(
        sse({ error: { message: info.message, type: 'policy_error', code: info.code, param: null, request_id: info.requestId, reasons: info.reasons } }) + 'data: [DONE]\n\n',
        'utf8',
      );
  }
}
