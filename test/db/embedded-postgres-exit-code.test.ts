import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * Loading the embedded PostgreSQL module (src/db/embedded-postgres.ts) leaves a process's exit code
 * alone: a failed test run or a failed CLI command still exits non-zero.
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
