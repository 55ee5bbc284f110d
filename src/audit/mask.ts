/**
 * What of a policy input may enter the decision log (docs/audit.md), in the
 * manner of OPA's `data.system.log.mask`: paths are erased from a copy of the
 * input and listed in the event's `erased`. Always erased: the body (`/input/body`),
 * the query (`/input/query`, `/input/parsed_query`: the access log never shows
 * it either, and it can carry identifiers) and credential headers. PII findings stay: they hold a type and a location,
 * never the value. `extra` adds operator-chosen JSON pointers (e.g.
 * `/input/peer/jwt/email`).
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
    // Copy each level before changing it: the input object is shared with the pipeline.
    const copy = Array.isArray(next) ? [...(next as unknown[])] : { ...(next as Record<string, unknown>) };
    (node as Record<string, unknown>)[tokens[i]!] = copy;
    node = copy;
  }
  const last = tokens[tokens.length - 1]!;
  if (typeof node !== 'object' || node === null || !(last in node)) return false;
  delete (node as Record<string, unknown>)[last];
  return true;
}

/** A masked copy of `input` and the pointers erased from it (OPA's `erased`). */
export function maskInput(input: Readonly<Record<string, unknown>>, options: MaskOptions = {}): { input: Record<string, unknown>; erased: string[] } {
  const out: Record<string, unknown> = { ...input };
  const erased: string[] = [];
  for (const key of ['body', 'query', 'parsed_query']) {
    if (!(key in out)) continue;
    const value = out[key];
    delete out[key];
    // An empty query is not worth a mention.
    if (key === 'body' || (key === 'query' && value !== '') || (key === 'parsed_query' && Object.keys(value as object).length > 0)) erased.push(`/input/${key}`);
  }
  const headers = out['headers'];
  if (typeof headers === 'object' && headers !== null) {
    const copy = { ...(headers as Record<string, unknown>) };
    for (const name of [...CREDENTIAL_HEADERS, ...(options.headers ?? [])]) {
      if (name in copy) {
        delete copy[name];
        erased.push(`/input/headers/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      }
    }
    out['headers'] = copy;
  }
  for (const pointer of options.extra ?? []) {
    if (!pointer.startsWith('/input/')) continue;
    const tokens = pointer.slice('/input/'.length).split('/').map(unescape);
    if (erase(out, tokens)) erased.push(pointer);
  }
  return { input: out, erased };
}
