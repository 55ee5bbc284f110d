/**
 * Tells whether a module is the process entry point (`node dist/demo/x.js`),
 * so the demo scripts can be both imported by tests and run directly.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `true` when the module at `moduleUrl` is the script node was started with. */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    // realpath on both sides: the script may be started through a symlink
    // (npm bin shims, /tmp links), which would defeat a plain comparison.
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
