/**
 * `vite-node rego/toolchain/build-bundle.ts DIR OUT [OPA] [CAPABILITIES]`, run
 * by build.sh: compiles DIR with compilePolicyDirectory (opa build -t wasm plus
 * the input-usage metadata the engine reads) and writes OUT. Writes next to
 * OUT and renames, so a failed build never leaves a half-written bundle where
 * the proxy would pick it up.
 */
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { compilePolicyDirectory } from '../../src/policy/compile.js';

const [dir, out, opaPath, capabilitiesPath] = process.argv.slice(2);
if (dir === undefined || out === undefined) {
  process.stderr.write('usage: build-bundle.ts DIR OUT [OPA] [CAPABILITIES]\n');
  process.exit(2);
}
try {
  const bundle = await compilePolicyDirectory(dir, { ...(opaPath ? { opaPath } : {}), ...(capabilitiesPath ? { capabilitiesPath } : {}) });
  const tmp = join(dirname(out), `.bundle.${process.pid}.tmp`);
  // 0644: the proxy may run as another user.
  await writeFile(tmp, bundle, { mode: 0o644 });
  await rename(tmp, out);
} catch (err) {
  process.stderr.write(`build: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
