import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** How long a test file may wait for `npm run build` on a busy machine. */
export const BUILD_TIMEOUT_MS = 300_000;

/**
 * dist/ up to date (`node scripts/build.mjs --if-stale`, as `npm start` does), for the tests and
 * harnesses that run the built server as a user does. Concurrent callers wait for one build.
 */
export function ensureBuilt(root = REPO): void {
  const result = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: root, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS });
  if (result.status !== 0) throw new Error(`npm run build failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
}

const entries = new Map<string, string[]>();

/**
 * The node arguments that start the server of the tree at `root` as `npm start` does: its build,
 * brought up to date once per process; a tree from before the build (a benchmark of an older
 * revision) runs its sources under tsx.
 */
export function serverEntry(root = REPO): string[] {
  let entry = entries.get(root);
  if (!entry) {
    if (existsSync(path.join(root, 'scripts', 'build.mjs'))) {
      ensureBuilt(root);
      entry = ['dist/main.js'];
    } else {
      entry = ['--import', 'tsx', 'src/main.ts'];
    }
    entries.set(root, entry);
  }
  return entry;
}
