/**
 * What of a policy input may enter the decision log (docs/audit.md), in the
 * manner of OPA's `data.system.log.mask`: paths are erased from a copy of the
 * input and listed in the event's `erased`. Always erased: the body (`/input/body`),
 * the query (`/input/query`, `/input/parsed_query`: the access log never shows
 * it either, and it can carry identifiers) and credential headers. PII findings stay: they hold a type and a location,
 * never the value. `extra` adds operator-chosen JSON pointers (e.g.
 * `/input/peer/jwt/email`).
 *
 * The work is split so the decision log can do the built-in part when a
 * request finishes ({@link captureInput}: a shallow copy without the body, so
 * the log never keeps the body or the request alive until its flush) and the
 * pointers later, at flush ({@link erasePointers}).
 */

/** Settings of {@link maskInput}. */
export interface MaskOptions {
  /** Header names (lower-case) never logged, added to the built-in ones. */
  readonly headers?: readonly string[];
  /** JSON pointers, starting at `/input/`, to erase as well. */
  readonly extra?: readonly string[];
}

/** Headers that carry credentials; never logged. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key'];

/** The header names a log erases, worked out once per log (see {@link maskedHeadersOf}). */
export interface MaskedHeaders {
  /** In the order their pointers are listed in `erased`. */
  readonly names: readonly string[];
  readonly set: ReadonlySet<string>;
  /** `/input/headers/<name>`, JSON-pointer escaped, by name. */
  readonly pointers: ReadonlyMap<string, string>;
}

export function maskedHeadersOf(options: MaskOptions | undefined): MaskedHeaders {
  const names = [...new Set([...CREDENTIAL_HEADERS, ...(options?.headers ?? [])])];
  return {
    names,
    set: new Set(names),
    pointers: new Map(names.map((name) => [name, `/input/headers/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`])),
  };
}

function unescape(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Removes the value at `pointer` (relative to the input, already copied on the way down); true when something was there. */
function erase(root: Record<string, unknown>, tokens: readonly string[]): boolean {
  let node: unknown = root;
  for (let i = 0; i < tokens.length - 1; i += 1) {
    if (typeof node !== 'object' || node === null) return false;
    const next = (node as Record<string, unknown>)[tokens[i]!];
    if (typeof next !== 'object' || next === null) return false;
    // Copy each level before changing it: below the top, objects are shared with the pipeline.
    const copy = Array.isArray(next) ? [...(next as unknown[])] : { ...(next as Record<string, unknown>) };
    (node as Record<string, unknown>)[tokens[i]!] = copy;
    node = copy;
  }
  const last = tokens[tokens.length - 1]!;
  if (typeof node !== 'object' || node === null || !(last in node)) return false;
  delete (node as Record<string, unknown>)[last];
  return true;
}

/**
 * The input without the body, the query and the erased headers, as a new
 * top-level object (members below it are shared with `input`, never
 * changed), and the pointers erased, in the order OPA's `erased` lists them.
 * Each member is read once (a getter on the input runs at most once);
 * `parsed_query` is not read at all when `query` is empty (it is then empty too).
 */
export function captureInput(input: Readonly<Record<string, unknown>>, headers: MaskedHeaders): { input: Record<string, unknown>; erased: string[] } {
  const out: Record<string, unknown> = {};
  let body = false;
  let query = false;
  let parsedQuery = false;
  let erasedHeaders: string[] | undefined;
  for (const key of Object.keys(input)) {
    if (key === 'body') {
      body = true;
    } else if (key === 'query') {
      query = input[key] !== '';
    } else if (key === 'parsed_query') {
      // An empty query is not worth a mention.
      parsedQuery = input['query'] !== '' && Object.keys(input[key] as object).length > 0;
    } else if (key === 'headers') {
      const value = input[key];
      if (typeof value !== 'object' || value === null) {
        out[key] = value;
        continue;
      }
      const masked = headersWithoutCredentials(value, headers);
      erasedHeaders = masked.found;
      out[key] = masked.kept;
    } else {
      out[key] = input[key];
    }
  }
  return { input: out, erased: builtInErasures(headers, body, query, parsedQuery, erasedHeaders) };
}

/**
 * The request's header object without credential headers: the object itself
 * when it is a plain one without any (the usual case: nothing is copied), else
 * a copy without a prototype, so a header named "__proto__" stays the member
 * it is. `found`: the names left out. Members are never changed in place.
 */
export function headersWithoutCredentials(value: object, headers: MaskedHeaders): { kept: object; found: string[] | undefined } {
  const names = Object.keys(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if ((proto === Object.prototype || proto === null) && !names.some((name) => headers.set.has(name))) return { kept: value, found: undefined };
  const copy = Object.create(null) as Record<string, unknown>;
  let found: string[] | undefined;
  for (const name of names) {
    if (headers.set.has(name)) (found ??= []).push(name);
    else copy[name] = (value as Record<string, unknown>)[name];
  }
  return { kept: copy, found };
}

/**
 * What the built-in erasure took out of one input, as OPA's `erased` lists
 * it: the body, the query, the parsed query, then the credential headers
 * found (`found`), in the log's order of names.
 */
export function builtInErasures(headers: MaskedHeaders, body: boolean, query: boolean, parsedQuery: boolean, found: readonly string[] | undefined): string[] {
  const erased: string[] = [];
  if (body) erased.push('/input/body');
  if (query) erased.push('/input/query');
  if (parsedQuery) erased.push('/input/parsed_query');
  if (found !== undefined) {
    for (const name of headers.names) if (found.includes(name)) erased.push(headers.pointers.get(name)!);
  }
  return erased;
}

/**
 * Erases `pointers` (each `/input/…`) from `input`, whose top level the
 * caller owns; deeper levels are copied before they change. Appends those
 * that erased something to `erased`; returns how many did.
 */
export function erasePointers(input: Record<string, unknown>, pointers: readonly string[], erased: string[]): number {
  let n = 0;
  for (const pointer of pointers) {
    if (!pointer.startsWith('/input/') || erased.includes(pointer)) continue;
    const tokens = pointer.slice('/input/'.length).split('/').map(unescape);
    if (erase(input, tokens)) {
      erased.push(pointer);
      n += 1;
    }
  }
  return n;
}

/** A masked copy of `input` and the pointers erased from it (OPA's `erased`). */
export function maskInput(input: Readonly<Record<string, unknown>>, options: MaskOptions = {}): { input: Record<string, unknown>; erased: string[] } {
  const masked = captureInput(input, maskedHeadersOf(options));
  erasePointers(masked.input, options.extra ?? [], masked.erased);
  return masked;
}
