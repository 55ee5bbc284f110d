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
export type InputUsage = WholeValue | PartOfObject | ComparedValue;

/** The value is read whole (or in ways the scanner cannot bound). */
export interface WholeValue {
  readonly kind: 'whole';
}

/** Only some members of an object are read, and perhaps its key set. */
export interface PartOfObject {
  readonly kind: 'part';
  /** True when the key set is observed (`object.keys`): every key is kept. */
  readonly keys: boolean;
  /**
   * Keys whose presence alone is tested (`"body" in object.keys(input)`),
   * when the key set is not otherwise observed: those keys are kept (their
   * values null), the others need not be.
   */
  readonly present?: readonly string[];
  readonly members: ReadonlyMap<string, InputUsage>;
}

/**
 * A value the rules only ever compare with number literals (`input.body_size
 * > 0`, `1024 >= input.x`): the decision depends on it only through which
 * side of each literal it falls, so any integer on the same side of all of
 * them decides the same (see {@link representative}).
 */
export interface ComparedValue {
  readonly kind: 'compared';
  /** The literals, ascending, without repeats. */
  readonly constants: readonly number[];
}

export const WHOLE: WholeValue = Object.freeze({ kind: 'whole' });

/** Literals beyond this are not modelled (their neighbours would round to them); the member is then read whole. */
const MAX_CONSTANT = 2 ** 50;

/**
 * The canonical stand-in for `value` given the literals a policy compares it
 * with: `value` itself when it equals one, else a fixed integer strictly
 * between the same two literals. Every comparison `v OP c` (==, !=, <, <=,
 * >, >=, unification) with c among `constants` then has the same truth for
 * the stand-in as for `value`. Only safe integers are replaced (the proxy's
 * sizes and counts); anything else is returned as it is.
 */
export function representative(value: number, constants: readonly number[]): number {
  if (!Number.isSafeInteger(value)) return value;
  let below: number | undefined;
  for (const c of constants) {
    if (value === c) return value;
    if (value < c) {
      const stand = below === undefined ? Math.ceil(c) - 1 : Math.floor(below) + 1;
      return stand < c && (below === undefined || stand > below) ? stand : value;
    }
    below = c;
  }
  if (below === undefined) return value;
  const stand = Math.floor(below) + 1;
  return stand > below ? stand : value;
}

/** Mutable node used while scanning. */
interface Node {
  whole: boolean;
  keys: boolean;
  members: Map<string, Node>;
  /** Number literals the value is compared with, where every reference to it is such a comparison. */
  compared?: Set<number>;
  /** Keys tested for presence only (`"k" in object.keys(ref)`). */
  present: Set<string>;
}

const newNode = (): Node => ({ whole: false, keys: false, members: new Map(), present: new Set() });

type Token =
  | { readonly kind: 'ident'; readonly text: string; readonly at: number }
  | { readonly kind: 'string'; readonly text: string; readonly at: number }
  | { readonly kind: 'punct'; readonly text: string; readonly at: number }
  | { readonly kind: 'number'; readonly text: string; readonly at: number }
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
      tokens.push({ kind: 'number', text: source.slice(i, j), at: i });
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

/** Comparison operators whose truth depends only on which side of a literal a number falls. */
const COMPARISONS = new Set(['==', '!=', '<', '<=', '>', '>=', '=']);
/** Characters operators are made of; a literal or reference touching one may be part of a larger expression. */
const OPERATOR_CHARS = new Set(['+', '-', '*', '/', '%', '&', '|', '.', '[', '(', '=', '<', '>', '!', ':']);
const OPERATOR_PART = new Set(['=', '<', '>', '!', ':']);

/** The operator spelled by adjacent punctuation starting at token `k` (forward), and the index after it. */
function operatorAt(tokens: readonly Token[], k: number): { text: string; next: number } | undefined {
  let text = '';
  let at = -1;
  let m = k;
  while (m < tokens.length) {
    const t = tokens[m]!;
    if (t.kind !== 'punct' || !OPERATOR_PART.has(t.text) || (at !== -1 && t.at !== at + 1)) break;
    text += t.text;
    at = t.at;
    m++;
  }
  return text === '' ? undefined : { text, next: m };
}

/** The operator spelled by adjacent punctuation ending at token `k` (backward), and the index of its first token. */
function operatorEndingAt(tokens: readonly Token[], k: number): { text: string; first: number } | undefined {
  let text = '';
  let at = -1;
  let m = k;
  while (m >= 0) {
    const t = tokens[m]!;
    if (t.kind !== 'punct' || !OPERATOR_PART.has(t.text) || (at !== -1 && t.at !== at - 1)) break;
    text = t.text + text;
    at = t.at;
    m--;
  }
  return text === '' ? undefined : { text, first: m + 1 };
}

/** A number literal the scanner models, or undefined. */
function literal(token: Token | undefined, negative: boolean): number | undefined {
  if (token?.kind !== 'number' || !/^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(token.text)) return undefined;
  const value = Number(token.text) * (negative ? -1 : 1);
  return Number.isFinite(value) && Math.abs(value) <= MAX_CONSTANT ? value : undefined;
}

/**
 * True when whatever stands before token `k` could take the operand that
 * starts at `k` into a larger expression (`x + input.n > 0`, `y < input.n >
 * 0`). Assignment and unification (`:=`, `=`) bind looser than a comparison.
 */
function bindsBefore(tokens: readonly Token[], k: number): boolean {
  const before = tokens[k - 1];
  if (before?.kind !== 'punct' || !OPERATOR_CHARS.has(before.text)) return false;
  const operator = operatorEndingAt(tokens, k - 1);
  return operator === undefined || (operator.text !== ':=' && operator.text !== '=');
}

/** True when token `k` continues the expression that ends before it (an operator, a member access or a call). */
const continues = (token: Token | undefined): boolean => token?.kind === 'punct' && OPERATOR_CHARS.has(token.text);

/**
 * When the reference spanning tokens [start, end) is one side of a comparison
 * whose other side is a number literal and nothing else can take either
 * operand (`input.body_size > 0`, `0 == input.body_size`,
 * `input.n <= -1`), that literal; otherwise undefined (the caller then treats
 * the value as read whole). Errs towards undefined.
 */
function comparedConstant(tokens: readonly Token[], start: number, end: number): number | undefined {
  // input.x OP [-]N
  const after = operatorAt(tokens, end);
  if (after !== undefined && COMPARISONS.has(after.text)) {
    const negative = isPunct(tokens[after.next], '-');
    const at = after.next + (negative ? 1 : 0);
    const value = literal(tokens[at], negative);
    if (value !== undefined && !continues(tokens[at + 1]) && !bindsBefore(tokens, start)) return value;
    return undefined;
  }
  // N OP input.x (no sign: a '-' before N could be a subtraction)
  const before = operatorEndingAt(tokens, start - 1);
  if (before !== undefined && COMPARISONS.has(before.text)) {
    const at = before.first - 1;
    const value = literal(tokens[at], false);
    if (value !== undefined && !bindsBefore(tokens, at) && !isPunct(tokens[at - 1], '-') && !continues(tokens[end])) return value;
  }
  return undefined;
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
    // True when a computed index ends the reference early (its value is then read whole).
    let cut = false;
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
        cut = true;
        break;
      }
      break;
    }
    // object.keys(<ref>) observes the key set only.
    const keysOnly = isPunct(tokens[i - 1], '(') && isIdent(tokens[i - 2], 'keys') && isPunct(tokens[i - 3], '.') && isIdent(tokens[i - 4], 'object') && isPunct(tokens[j], ')');
    // `"k" in object.keys(<ref>)`, and nothing around it that could take the
    // key set or the answer into something larger: the presence of k only.
    const tested = tokens[i - 6];
    const presenceOf =
      keysOnly && isIdent(tokens[i - 5], 'in') && tested?.kind === 'string' && !tested.text.startsWith('\u0000') && !bindsBefore(tokens, i - 6) && !continues(tokens[j + 1])
        ? tested.text
        : undefined;
    const node = nodeAt(root, path);
    const constant = keysOnly || cut || path.length === 0 ? undefined : comparedConstant(tokens, i, j);
    if (presenceOf !== undefined) node.present.add(presenceOf);
    else if (keysOnly) node.keys = true;
    else if (constant !== undefined) (node.compared ??= new Set()).add(constant);
    else node.whole = true;
    i = j - 1;
  }
  return true;
}

function freeze(node: Node): InputUsage {
  if (node.whole) return WHOLE;
  if (node.compared !== undefined) {
    // Compared somewhere and looked into elsewhere: not a plain number to the rules.
    if (node.keys || node.members.size > 0 || node.present.size > 0) return WHOLE;
    return Object.freeze({ kind: 'compared', constants: Object.freeze([...node.compared].sort((a, b) => a - b)) });
  }
  const members = new Map<string, InputUsage>();
  for (const [key, child] of node.members) members.set(key, freeze(child));
  const present = node.keys || node.present.size === 0 ? undefined : Object.freeze([...node.present].sort());
  return Object.freeze({ kind: 'part', keys: node.keys, ...(present === undefined ? {} : { present }), members });
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
export type InputUsageJson =
  | 'whole'
  | { readonly keys: boolean; readonly present?: readonly string[]; readonly members: Readonly<Record<string, InputUsageJson>> }
  | { readonly compared: readonly number[] };

export function inputUsageToJson(usage: InputUsage): InputUsageJson {
  if (usage.kind === 'whole') return 'whole';
  if (usage.kind === 'compared') return { compared: [...usage.constants] };
  const members: Record<string, InputUsageJson> = {};
  // Sorted, so the manifest (and the bundle digest) does not depend on source order.
  for (const key of [...usage.members.keys()].sort()) members[key] = inputUsageToJson(usage.members.get(key)!);
  return { keys: usage.keys, ...(usage.present === undefined ? {} : { present: [...usage.present] }), members };
}

/** Reads the manifest form back; throws a TypeError naming what is wrong. */
export function inputUsageFromJson(json: unknown, where = 'input_usage'): InputUsage {
  if (json === 'whole') return WHOLE;
  if (isObject(json) && 'compared' in json) {
    const constants = json['compared'];
    const valid =
      Array.isArray(constants) &&
      Object.keys(json).length === 1 &&
      constants.every((c, k) => typeof c === 'number' && Number.isFinite(c) && Math.abs(c) <= MAX_CONSTANT && (k === 0 || c > (constants[k - 1] as number)));
    if (!valid) throw new TypeError(`${where}.compared must be ascending numbers of at most 2^50`);
    return Object.freeze({ kind: 'compared', constants: Object.freeze([...(constants as number[])]) });
  }
  if (!isObject(json) || typeof json['keys'] !== 'boolean' || !isObject(json['members'])) {
    throw new TypeError(`${where} must be "whole" or {"keys": boolean, "members": {...}}`);
  }
  const members = new Map<string, InputUsage>();
  for (const [key, child] of Object.entries(json['members'])) members.set(key, inputUsageFromJson(child, `${where}.${key}`));
  const present = json['present'];
  if (present !== undefined && (!Array.isArray(present) || !present.every((k) => typeof k === 'string'))) {
    throw new TypeError(`${where}.present must be a list of key names`);
  }
  return Object.freeze({ kind: 'part', keys: json['keys'], ...(present === undefined ? {} : { present: Object.freeze([...(present as string[])]) }), members });
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
  if (usage.kind === 'compared') return typeof value === 'number' ? representative(value, usage.constants) : value;
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
  for (const key of usage.present ?? []) {
    if (!usage.members.has(key) && Object.prototype.propertyIsEnumerable.call(value, key) && value[key] !== undefined) out[key] = null;
  }
  return out;
}

/** True when the policy may read top-level input member `name` (its value, not only its key). */
export function readsMember(usage: InputUsage, name: string): boolean {
  return usage.kind !== 'part' || usage.members.has(name);
}

/**
 * True when `usage` reads nothing outside the member at `path` (e.g.
 * `['input', 'peer']`): every level above it is an object read for that one
 * member only, its key set and the presence of other keys unobserved. What it
 * reads under `path` is not looked at. A value so read decides the same for
 * any two values whose member at `path` is the same.
 */
export function confinedTo(usage: InputUsage, path: readonly string[]): boolean {
  let level = usage;
  for (const key of path) {
    if (level.kind !== 'part' || level.keys || (level.present !== undefined && level.present.length > 0)) return false;
    const child = level.members.get(key);
    if (child === undefined || level.members.size !== 1) return level.members.size === 0;
    level = child;
  }
  return true;
}

/** A one-line description for logs and docs, e.g. `method, path, headers.content-type, keys(.)`. */
export function describeInputUsage(usage: InputUsage): string {
  if (usage.kind === 'whole') return 'the whole input';
  if (usage.kind === 'compared') return `. (compared with ${usage.constants.join(', ')})`;
  const parts: string[] = [];
  const walk = (node: PartOfObject, prefix: string): void => {
    if (node.keys) parts.push(`keys(${prefix || '.'})`);
    for (const key of node.present ?? []) parts.push(`has(${prefix ? `${prefix}.` : ''}${key})`);
    for (const [key, child] of node.members) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (child.kind === 'whole') parts.push(path);
      else if (child.kind === 'compared') parts.push(`${path} (compared with ${child.constants.join(', ')})`);
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
  /** Set when the value is only compared with these literals: a number is written as its representative. */
  readonly compared?: readonly number[];
  readonly keys: boolean;
  readonly members: ReadonlyArray<{ readonly key: string; readonly quoted: string; readonly plan: CompactPlan }>;
  /** Keys written as null when present, because only their presence is tested (and no member reads them). */
  readonly present?: ReadonlyArray<{ readonly key: string; readonly quoted: string }>;
  readonly byKey: ReadonlyMap<string, CompactPlan>;
}

export function compactPlan(usage: InputUsage): CompactPlan {
  if (usage.kind === 'whole') return { whole: true, keys: false, members: [], byKey: new Map() };
  if (usage.kind === 'compared') return { whole: true, compared: usage.constants, keys: false, members: [], byKey: new Map() };
  const members = [...usage.members].map(([key, child]) => ({ key, quoted: JSON.stringify(key), plan: compactPlan(child) }));
  const present = (usage.present ?? []).filter((key) => !usage.members.has(key)).map((key) => ({ key, quoted: JSON.stringify(key) }));
  return { whole: false, keys: usage.keys, members, ...(present.length === 0 ? {} : { present }), byKey: new Map(members.map((m) => [m.key, m.plan])) };
}

/**
 * `JSON.stringify(projectInput(value, usage))`, written directly: no
 * projected copy is built, and a member nobody reads is never read either, so
 * a getter on the input is not run for it. A key whose value is a getter
 * counts as present. Returns undefined where JSON.stringify would; throws where it
 * would (a BigInt).
 */
export function compactJson(value: unknown, plan: CompactPlan): string | undefined {
  if (plan.compared !== undefined && typeof value === 'number') return JSON.stringify(representative(value, plan.compared));
  if (plan.whole || !isObject(value)) return JSON.stringify(value);
  let out = '';
  if (plan.keys) {
    for (const key of Object.keys(value)) {
      const child = plan.byKey.get(key);
      let json: string | undefined;
      if (child !== undefined) {
        const member = value[key];
        if (member === undefined) continue;
        json = compactJson(member, child);
        if (json === undefined) continue;
      } else {
        // Only the key is observed: its value is never read (nor computed).
        if (!presentKey(value, key)) continue;
        json = 'null';
      }
      out += (out.length === 0 ? '{' : ',') + quotedKey(key) + ':' + json;
    }
  } else {
    for (const member of plan.members) {
      const field = value[member.key];
      if (field === undefined) continue;
      const json = compactJson(field, member.plan);
      if (json === undefined) continue;
      out += (out.length === 0 ? '{' : ',') + member.quoted + ':' + json;
    }
    if (plan.present !== undefined) {
      for (const { key, quoted } of plan.present) {
        if (presentKey(value, key)) out += (out.length === 0 ? '{' : ',') + quoted + ':null';
      }
    }
  }
  return out.length === 0 ? '{}' : out + '}';
}

/** True when `key` is an own property JSON.stringify would write, found without running a getter. */
function presentKey(value: Record<string, unknown>, key: string): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(value, key);
  return descriptor !== undefined && descriptor.enumerable === true && (descriptor.get !== undefined || descriptor.value !== undefined);
}

/** JSON-quoted object keys; the proxy's inputs use few distinct ones, so quoting is remembered (boundedly). */
const QUOTED_KEYS = new Map<string, string>();
const QUOTED_KEYS_MAX = 1024;

function quotedKey(key: string): string {
  let quoted = QUOTED_KEYS.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (QUOTED_KEYS.size < QUOTED_KEYS_MAX && key.length <= 64) QUOTED_KEYS.set(key, quoted);
  }
  return quoted;
}
