#!/usr/bin/env node
/**
 * Generates rego/capabilities.json: the exact set of builtins our policy may
 * call, for `opa build -t wasm`, `opa check` and `opa test`.
 *
 *   node rego/toolchain/capabilities.mjs          # (re)write rego/capabilities.json
 *   node rego/toolchain/capabilities.mjs --check  # exit 1 if the file is stale
 *
 * Why a generated allow-list: a capabilities file *replaces* OPA's builtin set,
 * and the wasm target has no implementation of many builtins (time.*, http.send,
 * crypto.*, …). opa-wasm only finds out at evaluation time ("not implemented:
 * built-in function"), i.e. in production. Restricting the set to what really
 * runs in our runtime moves that failure to `opa build` / `opa check`.
 *
 * The set is the union of
 *   1. builtins OPA compiles natively into wasm: `"wasm": true` in the pinned
 *      OPA's builtin_metadata.json (read from the Go module cache, where
 *      install-opa.sh's `go install` put it), intersected with
 *      `opa capabilities --current` so each declaration is the binary's own;
 *   2. builtins the npm SDK implements in JS and that we admit (SDK_ADMITTED);
 *   3. our TypeScript builtins, declared in custom-builtins.json next to this
 *      script (implementations: src/policy/builtins/).
 * Re-run after bumping OPA_VERSION in install-opa.sh.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const opa = process.env.OPA ?? join(root, '.tools/bin/opa');
const outPath = join(root, 'rego/capabilities.json');

/**
 * JS-implemented builtins of @open-policy-agent/opa-wasm 1.10 we allow. None,
 * on purpose: `sprintf` uses sprintf-js (no Go verbs such as %v, so `opa test`
 * and production would disagree), `regex.split` uses a backtracking JS RegExp
 * (ReDoS on attacker-controlled input), and `yaml.*` follows a different YAML
 * library than OPA. Add a name here only after checking its semantics.
 * @type {string[]}
 */
const SDK_ADMITTED = [];

/**
 * Native wasm builtins we still refuse. `internal.print` is how print() is
 * compiled; with --wasm-include-print the SDK sends it to console.log, which
 * would put request bodies into stdout logs.
 */
const REFUSED = new Set(['internal.print']);

/**
 * The wasm ABI versions our runtime (the npm SDK) executes: major 1, and it
 * uses the one-call opa_eval fast path from minor 2 on. `opa build` refuses
 * to emit a module whose ABI is not listed here.
 */
const WASM_ABI_VERSIONS = [
  { version: 1, minor_version: 1 },
  { version: 1, minor_version: 2 },
];

/** Keys of a builtin declaration OPA needs; descriptions are left out to keep diffs small. */
const KEPT_KEYS = ['name', 'decl', 'infix', 'relation', 'nondeterministic'];

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const detail = err && typeof err === 'object' && 'stderr' in err ? String(err.stderr).trim() : String(err);
    throw new Error(`capabilities: \`${cmd} ${args.join(' ')}\` failed: ${detail}`);
  }
}

/** The pinned OPA's builtin_metadata.json, which carries the per-builtin `wasm` flag. */
function loadBuiltinMetadata(version) {
  const mod = `github.com/open-policy-agent/opa@v${version}`;
  const cache = run('go', ['env', 'GOMODCACHE']).trim();
  let dir = join(cache, mod);
  if (!existsSync(join(dir, 'builtin_metadata.json'))) {
    // Not in the cache (e.g. OPA came from elsewhere): fetch the module source
    // through the Go module proxy, the only registry this project uses for Go.
    dir = JSON.parse(run('go', ['mod', 'download', '-json', mod])).Dir;
  }
  return JSON.parse(readFileSync(join(dir, 'builtin_metadata.json'), 'utf8'));
}

function pick(builtin) {
  const out = {};
  for (const key of KEPT_KEYS) if (builtin[key] !== undefined) out[key] = builtin[key];
  return out;
}

function generate() {
  const version = /^Version: (\S+)$/m.exec(run(opa, ['version']))?.[1];
  if (!version) throw new Error(`capabilities: cannot read the version of ${opa}`);
  const current = JSON.parse(run(opa, ['capabilities', '--current']));
  const metadata = loadBuiltinMetadata(version);
  const custom = JSON.parse(readFileSync(join(here, 'custom-builtins.json'), 'utf8'));

  const admitted = new Set(SDK_ADMITTED);
  const builtins = current.builtins
    .filter((b) => !REFUSED.has(b.name) && (metadata[b.name]?.wasm === true || admitted.has(b.name)))
    .map(pick);
  for (const name of admitted) {
    if (!builtins.some((b) => b.name === name)) throw new Error(`capabilities: SDK builtin ${name} unknown to OPA ${version}`);
  }
  for (const b of custom) {
    if (current.builtins.some((c) => c.name === b.name)) throw new Error(`capabilities: custom builtin ${b.name} shadows an OPA builtin`);
    builtins.push(pick(b));
  }
  builtins.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const caps = { builtins, wasm_abi_versions: WASM_ABI_VERSIONS, features: ['rego_v1'] };
  return `${JSON.stringify(caps, null, 2)}\n`;
}

try {
  const text = generate();
  if (process.argv.includes('--check')) {
    const existing = existsSync(outPath) ? readFileSync(outPath, 'utf8') : '';
    if (existing !== text) {
      process.stderr.write('capabilities: rego/capabilities.json is stale; run `node rego/toolchain/capabilities.mjs`\n');
      process.exit(1);
    }
  } else {
    writeFileSync(outPath, text);
  }
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
