/**
 * Redaction: the proxy's half of a response decision's `redact` list.
 *
 * The policy says *what* to redact (a JSON pointer to a string leaf and a
 * UTF-16 span in it); this module checks that the instruction makes sense for
 * the document at hand and rewrites the span to `[REDACTED:TYPE]`. A
 * malformed instruction is never half-applied or skipped: the caller turns it
 * into a policy failure (deny), because a redaction that silently did nothing
 * would release exactly what the policy meant to hide.
 */

/** One validated redaction: replace [start, end) of the string at `path`. */
export interface Redaction {
  /** RFC 6901 pointer (JSON documents) or a stream channel id (`stream:…`). */
  readonly path: string;
  readonly start: number;
  readonly end: number;
  /** Kind of PII; upper-cased into the placeholder. */
  readonly type: string;
}

/** Thrown for a redact list that is not well-formed or does not fit the document. */
export class RedactionError extends Error {
  override readonly name = 'RedactionError';
}

/** Keys a redact entry must have, and the only ones it may have. */
const ENTRY_KEYS = ['end', 'path', 'start', 'type'];
/** Types become part of the client-visible placeholder, so keep them plain. */
const TYPE_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;
/** Cap on entries; the scanner reports at most 256 findings per document. */
const MAX_ENTRIES = 1024;

/** The text that replaces a redacted span, e.g. `[REDACTED:EMAIL]`. */
export function placeholder(type: string): string {
  return `[REDACTED:${type.toUpperCase()}]`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks the shape of a decision's `redact` value: an array of
 * `{path, start, end, type}` with integer offsets, `0 <= start < end`, a plain
 * lower-case type and no other keys. Returns the entries sorted by path and
 * start, and rejects overlapping spans on the same path (after sorting), since
 * two placeholders cannot both replace one character. Does not look at the
 * document; {@link redactJson} and the stream transform check bounds.
 *
 * @throws RedactionError when anything is off.
 */
export function parseRedactions(value: unknown): Redaction[] {
  if (!Array.isArray(value)) throw new RedactionError('"redact" is not an array');
  if (value.length > MAX_ENTRIES) throw new RedactionError(`"redact" has more than ${MAX_ENTRIES} entries`);
  const out: Redaction[] = [];
  for (const entry of value as unknown[]) {
    if (!isRecord(entry)) throw new RedactionError('a redact entry is not an object');
    const keys = Object.keys(entry).sort();
    if (keys.length !== ENTRY_KEYS.length || keys.some((k, i) => k !== ENTRY_KEYS[i])) {
      throw new RedactionError('a redact entry must have exactly path, start, end and type');
    }
    const { path, start, end, type } = entry;
    if (typeof path !== 'string') throw new RedactionError('a redact "path" is not a string');
    if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) throw new RedactionError('a redact "type" is not a plain lower-case name');
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || (start as number) < 0 || (end as number) <= (start as number)) {
      throw new RedactionError('a redact span is not 0 <= start < end');
    }
    out.push({ path, start: start as number, end: end as number, type });
  }
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.start - b.start));
  for (let i = 1; i < out.length; i++) {
    const prev = out[i - 1]!;
    const cur = out[i]!;
    if (prev.path === cur.path && cur.start < prev.end) throw new RedactionError('redact spans overlap');
  }
  return out;
}

/**
 * Replaces the given spans of `text`. `spans` must be sorted, disjoint and
 * within bounds (as {@link parseRedactions} and a bounds check leave them).
 */
export function redactText(text: string, spans: readonly Pick<Redaction, 'start' | 'end' | 'type'>[]): string {
  let out = '';
  let pos = 0;
  for (const span of spans) {
    out += text.slice(pos, span.start) + placeholder(span.type);
    pos = span.end;
  }
  return out + text.slice(pos);
}

/** Unescapes one RFC 6901 reference token. */
function unescapeToken(token: string): string {
  return token.includes('~') ? token.replaceAll('~1', '/').replaceAll('~0', '~') : token;
}

/** The container and key a pointer names, or undefined when it does not resolve. */
function resolveParent(doc: unknown, pointer: string): { parent: Record<string, unknown> | unknown[]; key: string | number } | undefined {
  if (pointer === '' || !pointer.startsWith('/')) return undefined;
  const tokens = pointer.slice(1).split('/').map(unescapeToken);
  let node: unknown = doc;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    let key: string | number;
    if (Array.isArray(node)) {
      // RFC 6901 array index: "0" or no leading zero; "-" never names a member.
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
      key = Number(token);
      if (key >= node.length) return undefined;
    } else if (isRecord(node)) {
      if (!Object.prototype.hasOwnProperty.call(node, token)) return undefined;
      key = token;
    } else {
      return undefined;
    }
    if (i === tokens.length - 1) return { parent: node as Record<string, unknown> | unknown[], key };
    node = (node as Record<string | number, unknown>)[key];
  }
  return undefined;
}

/**
 * Applies a decision's `redact` value to a parsed JSON document, in place, and
 * returns how many spans were replaced. Every entry's pointer must name a
 * string leaf (not the document root, not a key) and its span must lie within
 * that string and must not cut a surrogate pair.
 *
 * @throws RedactionError for a malformed list or one that does not fit `doc`;
 *   the document may then be partly rewritten and must not be sent.
 */
export function redactJson(doc: unknown, redact: unknown): number {
  const entries = parseRedactions(redact);
  let i = 0;
  while (i < entries.length) {
    const path = entries[i]!.path;
    let j = i;
    while (j < entries.length && entries[j]!.path === path) j++;
    const group = entries.slice(i, j);
    const target = resolveParent(doc, path);
    if (target === undefined) throw new RedactionError('a redact "path" does not resolve');
    const leaf = (target.parent as Record<string | number, unknown>)[target.key];
    if (typeof leaf !== 'string') throw new RedactionError('a redact "path" does not name a string');
    for (const span of group) {
      if (span.end > leaf.length) throw new RedactionError('a redact span is out of bounds');
      if (cutsSurrogate(leaf, span.start) || cutsSurrogate(leaf, span.end)) throw new RedactionError('a redact span splits a character');
    }
    (target.parent as Record<string | number, unknown>)[target.key] = redactText(leaf, group);
    i = j;
  }
  return entries.length;
}

/** True when offset `at` falls between the two halves of a surrogate pair. */
function cutsSurrogate(text: string, at: number): boolean {
  if (at <= 0 || at >= text.length) return false;
  const before = text.charCodeAt(at - 1);
  const after = text.charCodeAt(at);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}
