/**
 * Which parts of the input document a policy can read, found from its Rego
 * sources when our build compiles them (compile.ts), carried in the bundle's
 * `.manifest` metadata, so the proxy can hand the wasm module a compact input
 * (docs/policy.md, "What the policy is given"). The analysis needs the real
 * sources: a wasm bundle's own .rego files are not enough, since `opa build`
 * replaces the entrypoint rules in them with imports of the compiled ones.
 *
 * Why: input crosses into wasm as JSON text and is parsed there on every
 * evaluation. A policy that never looks at `input.body` or `input.peer` should
 * not pay for serialising and parsing them.
 *
 * Soundness comes first; every doubt widens the result:
 * - each reference `input.a.b["c"]` marks the subtree `a.b.c` as read, whole;
 * - `object.keys(<ref>)` marks only the key set of that object as read: the
 *   projection keeps every key, and values nobody refers to become null;
 * - any other form (a bare `input`, a computed or numeric index, `import
 *   input`, template strings, a reference the scanner cannot follow, a bundle
 *   without our build metadata) means "the whole input".
 * A wrong answer here could hide a field a rule depends on, so the scanner
 * errs wide, and test/unit/policy/input-usage.test.ts checks both the scanner
 * on awkward sources and, on random inputs, that the default policy decides
 * exactly the same on the projected input as on the full one.
 */

/** What of a JSON value a policy reads. */
export type InputUsage = WholeValue | PartOfObject;

/** The value is read whole (or in ways the scanner cannot bound). */
export interface WholeValue {
  readonly kind: 'whole';
}

/** Only some members of an object are read, and perhaps its key set. */
export interface PartOfObject {
  readonly kind: 'part';
  /** True when the key set is observed (`object.keys`): every key is kept. */
  readonly keys: boolean;
  readonly members: ReadonlyMap<string, InputUsage>;
}

export const WHOLE: WholeValue = Object.freeze({ kind: 'whole' });

/** Mutable node used while scanning. */
interface Node {
  whole: boolean;
  keys: boolean;
  members: Map<string, Node>;
}

const newNode = (): Node => ({ whole: false, keys: false, members: new Map() });

type Token =
  | { readonly kind: 'ident'; readonly text: string; readonly at: number }
  | { readonly kind: 'string'; readonly text: string; readonly at: number }
  | { readonly kind: 'punct'; readonly text: string; readonly at: number }
  | { readonly kind: 'number'; readonly at: number }
  /** Something the scanner does not model (template strings); forces "whole". */
  | { readonly kind: 'opaque'; readonly at: number };

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/** Splits Rego source into the tokens the reference scan needs: identifiers, string literals, punctuation. */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === '#') {
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '$' && (source[i + 1] === '"' || source[i + 1] === '`')) {
      // Template strings embed expressions; the scanner does not parse them.
      tokens.push({ kind: 'opaque', at: i });
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < n && source[j] !== '"') {
        if (source[j] === '\\') {
          const escaped = source.slice(j, j + 2);
          // Keep escapes verbatim except the two that matter for key names.
          text += escaped === '\\"' ? '"' : escaped === '\\\\' ? '\\' : escaped;
          j += 2;
          continue;
        }
        text += source[j];
        j++;
      }
      tokens.push({ kind: 'string', text: text.includes('\\') ? '\u0000unknown' : text, at: i });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const end = source.indexOf('`', i + 1);
      const stop = end === -1 ? n : end;
      tokens.push({ kind: 'string', text: source.slice(i + 1, stop), at: i });
      i = stop + 1;
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT_PART.test(source[j]!)) j++;
      tokens.push({ kind: 'ident', text: source.slice(i, j), at: i });
      i = j;
      continue;
    }
    if (c >= '0' && c <= '9') {
      let j = i + 1;
      while (j < n && /[0-9.eE+-]/.test(source[j]!)) j++;
      tokens.push({ kind: 'number', at: i });
      i = j;
      continue;
    }
    tokens.push({ kind: 'punct', text: c, at: i });
    i++;
  }
  return tokens;
}

const isPunct = (t: Token | undefined, text: string): boolean => t?.kind === 'punct' && t.text === text;
const isIdent = (t: Token | undefined, text: string): boolean => t?.kind === 'ident' && t.text === text;

/** Marks the node at `path` (creating it) and returns it. */
function nodeAt(root: Node, path: readonly string[]): Node {
  let node = root;
  for (const key of path) {
    if (node.whole) return node;
    let next = node.members.get(key);
    if (next === undefined) {
      next = newNode();
      node.members.set(key, next);
    }
    node = next;
  }
  return node;
}

/**
 * Scans one module. Returns false when the module uses input in a way the
 * scanner does not bound (the caller then treats the whole input as read).
 */
function scanModule(source: string, root: Node): boolean {
  const tokens = tokenize(source);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'opaque') return false;
    if (!isIdent(token, 'input')) continue;
    // `x.input` is a member named input, not the input document.
    if (isPunct(tokens[i - 1], '.')) continue;
    // `import input` / `import input.x as y` would alias input under another name.
    if (isIdent(tokens[i - 1], 'import')) return false;
    const path: string[] = [];
    let j = i + 1;
    for (;;) {
      const next = tokens[j];
      // `.name` directly after the dot; anything else ends the reference.
      if (isPunct(next, '.') && tokens[j + 1]?.kind === 'ident' && tokens[j + 1]!.at === next!.at + 1) {
        path.push((tokens[j + 1] as { text: string }).text);
        j += 2;
        continue;
      }
      if (isPunct(next, '[')) {
        const key = tokens[j + 1];
        if (key?.kind === 'string' && !key.text.startsWith('\u0000') && isPunct(tokens[j + 2], ']')) {
          path.push(key.text);
          j += 3;
          continue;
        }
        // A computed or numeric index reads the collection at this level
        // whole: stop here, and the path so far is marked whole below.
        break;
      }
      break;
    }
    // object.keys(<ref>) observes the key set only.
    const keysOnly = isPunct(tokens[i - 1], '(') && isIdent(tokens[i - 2], 'keys') && isPunct(tokens[i - 3], '.') && isIdent(tokens[i - 4], 'object') && isPunct(tokens[j], ')');
    const node = nodeAt(root, path);
    if (keysOnly) node.keys = true;
    else node.whole = true;
    i = j - 1;
  }
  return true;
}

function freeze(node: Node): InputUsage {
  if (node.whole) return WHOLE;
  const members = new Map<string, InputUsage>();
  for (const [key, child] of node.members) members.set(key, freeze(child));
  return Object.freeze({ kind: 'part', keys: node.keys, members });
}

/**
 * What the policy made of `sources` (the Rego modules of one bundle) reads of
 * its input. No sources, or anything the scanner cannot bound → WHOLE.
 */
export function analyseInputUsage(sources: readonly string[]): InputUsage {
  if (sources.length === 0) return WHOLE;
  const root = newNode();
  for (const source of sources) {
    if (!scanModule(source, root)) return WHOLE;
  }
  return freeze(root);
}

/**
 * Identifiers of builtins whose result can change between two evaluations of
 * the same input. Sources that mention any of them are not memoisable. The
 * wasm capabilities (rego/capabilities.json) admit none of them today; this
 * keeps the memo sound if a policy is built with other capabilities.
 */
const NONDETERMINISTIC = /\b(time\.|rand\.|uuid\.|http\.send|net\.lookup|opa\.runtime|io\.jwt\.decode_verify|crypto\.x509\.parse_and_verify)/;

/** True when no source mentions a builtin that could answer differently for the same input. */
export function deterministicSources(sources: readonly string[]): boolean {
  return sources.length > 0 && !sources.some((source) => NONDETERMINISTIC.test(source));
}

/** JSON form of an InputUsage, as stored in the bundle manifest: "whole", or {keys, members}. */
export type InputUsageJson = 'whole' | { readonly keys: boolean; readonly members: Readonly<Record<string, InputUsageJson>> };

export function inputUsageToJson(usage: InputUsage): InputUsageJson {
  if (usage.kind === 'whole') return 'whole';
  const members: Record<string, InputUsageJson> = {};
  // Sorted, so the manifest (and the bundle digest) does not depend on source order.
  for (const key of [...usage.members.keys()].sort()) members[key] = inputUsageToJson(usage.members.get(key)!);
  return { keys: usage.keys, members };
}

/** Reads the manifest form back; throws a TypeError naming what is wrong. */
export function inputUsageFromJson(json: unknown, where = 'input_usage'): InputUsage {
  if (json === 'whole') return WHOLE;
  if (!isObject(json) || typeof json['keys'] !== 'boolean' || !isObject(json['members'])) {
    throw new TypeError(`${where} must be "whole" or {"keys": boolean, "members": {...}}`);
  }
  const members = new Map<string, InputUsage>();
  for (const [key, child] of Object.entries(json['members'])) members.set(key, inputUsageFromJson(child, `${where}.${key}`));
  return Object.freeze({ kind: 'part', keys: json['keys'], members });
}

/** True when `value` is a plain JSON object (not an array, not null). */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The part of `value` that `usage` says is read. Keys observed but never read
 * map to null; members nobody reads are left out; a non-object where members
 * are read is kept whole (the policy's own type checks then see it as it is).
 */
export function projectInput(value: unknown, usage: InputUsage): unknown {
  if (usage.kind === 'whole' || !isObject(value)) return value;
  const out: Record<string, unknown> = {};
  if (usage.keys) {
    for (const key of Object.keys(value)) {
      const member = value[key];
      if (member === undefined) continue;
      const child = usage.members.get(key);
      out[key] = child === undefined ? null : projectInput(member, child);
    }
    return out;
  }
  for (const [key, child] of usage.members) {
    const member = value[key];
    if (member !== undefined) out[key] = projectInput(member, child);
  }
  return out;
}

/** True when the policy may read top-level input member `name` (its value, not only its key). */
export function readsMember(usage: InputUsage, name: string): boolean {
  return usage.kind === 'whole' || usage.members.has(name);
}

/** A one-line description for logs and docs, e.g. `method, path, headers.content-type, keys(.)`. */
export function describeInputUsage(usage: InputUsage): string {
  if (usage.kind === 'whole') return 'the whole input';
  const parts: string[] = [];
  const walk = (node: PartOfObject, prefix: string): void => {
    if (node.keys) parts.push(`keys(${prefix || '.'})`);
    for (const [key, child] of node.members) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (child.kind === 'whole') parts.push(path);
      else walk(child, path);
    }
  };
  walk(usage, '');
  return parts.join(', ');
}

/**
 * A usage laid out for serialising: arrays to walk instead of maps, keys
 * already JSON-quoted. Built once per loaded policy.
 */
export interface CompactPlan {
  readonly whole: boolean;
  readonly keys: boolean;
  readonly members: ReadonlyArray<{ readonly key: string; readonly quoted: string; readonly plan: CompactPlan }>;
  readonly byKey: ReadonlyMap<string, CompactPlan>;
}

export function compactPlan(usage: InputUsage): CompactPlan {
  if (usage.kind === 'whole') return { whole: true, keys: false, members: [], byKey: new Map() };
  const members = [...usage.members].map(([key, child]) => ({ key, quoted: JSON.stringify(key), plan: compactPlan(child) }));
  return { whole: false, keys: usage.keys, members, byKey: new Map(members.map((m) => [m.key, m.plan])) };
}

/**
 * `JSON.stringify(projectInput(value, usage))`, written directly: no
 * projected copy is built, and a member nobody reads is never read either, so
 * a lazy getter on the input (src/proxy/input.ts) is not run for it. A key
 * whose value is a getter counts as present (the proxy's getters never return
 * undefined). Returns undefined where JSON.stringify would; throws where it
 * would (a BigInt).
 */
export function compactJson(value: unknown, plan: CompactPlan): string | undefined {
  if (plan.whole || !isObject(value)) return JSON.stringify(value);
  let out = '{';
  let first = true;
  const add = (quoted: string, json: string | undefined): void => {
    if (json === undefined) return;
    out += first ? `${quoted}:${json}` : `,${quoted}:${json}`;
    first = false;
  };
  if (plan.keys) {
    for (const key of Object.keys(value)) {
      const child = plan.byKey.get(key);
      if (child !== undefined) {
        const member = value[key];
        if (member !== undefined) add(JSON.stringify(key), compactJson(member, child));
        continue;
      }
      // Only the key is observed: its value is never read (nor computed).
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor !== undefined && (descriptor.get !== undefined || descriptor.value !== undefined)) add(JSON.stringify(key), 'null');
    }
  } else {
    for (const { key, quoted, plan: child } of plan.members) {
      const member = value[key];
      if (member !== undefined) add(quoted, compactJson(member, child));
    }
  }
  return `${out}}`;
}
