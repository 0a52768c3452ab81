/**
 * The server never starts open: on a real database (DATABASE_URL) it needs AUTH_JWT_SECRET or
 * AUTH_JWKS_URL, a secret long enough and an audience for the JWKS. The development secret and
 * the admin token printed at start are the embedded mode's, and the token is not logged.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../support/dist.js';
import { refusingPort } from '../support/ports.js';
import { cleanEnvironment, REPO_ROOT, scratchFolders, type ServerProcess, startServerProcess } from '../support/server-process.js';

const ADMIN_QUERY = '{ tenants(first: 1) { edges { node { id } } } }';

describe('authentication at start-up', { timeout: 120_000 }, () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
  const { cleanups, folder } = scratchFolders('hooklane-auth-');

  /** A DATA_DIR (not created yet) in a folder the embedded PostgreSQL's user can enter. */
  const dataDir = async () => path.join(await folder(), 'data');

  const start = (env: Record<string, string>): ServerProcess => {
    const server = startServerProcess({ env: { HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env } });
    cleanups.push(() => server.kill());
    return server;
  };

  /** Runs the entry to its end; expects exit 1 and one line on standard error, which it returns. */
  const refusedStart = async (env: Record<string, string>): Promise<string> => {
    const server = start({ PORT: '0', ...env });
    const exit = await server.exit;
    expect(exit, `${server.stdout}\n${server.stderr}`).toEqual({ code: 1, signal: null });
    const lines = server.stderr.split('\n').filter((line) => line !== '');
    expect(lines, server.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/\. Fix: .+\.$/);
    return lines[0]!;
  };

  it('refuses DATABASE_URL without AUTH_JWT_SECRET or AUTH_JWKS_URL, naming both, before it connects or creates anything', async () => {
    const dir = await dataDir();
    // Nothing listens there: the refusal comes before any connection.
    const refusing = await refusingPort();
    const line = await refusedStart({ DATA_DIR: dir, DATABASE_URL: `postgres://hooklane:secret@127.0.0.1:${refusing.port}/hooklane` }).finally(() => refusing.release());
    expect(line).toBe(
      'DATABASE_URL is set but neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is, and the development secret is only for the embedded database. ' +
        'Fix: set AUTH_JWT_SECRET (at least 32 bytes) or AUTH_JWKS_URL (with AUTH_AUDIENCE).',
    );
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses an AUTH_JWT_SECRET shorter than 32 bytes', async () => {
    const dir = await dataDir();
    const line = await refusedStart({ DATA_DIR: dir, AUTH_JWT_SECRET: 'x'.repeat(31) });
    expect(line).toMatch(/^Invalid configuration: AUTH_JWT_SECRET: must be at least 32 bytes .*\. Fix: correct this environment variable/);
    expect(line).not.toContain('x'.repeat(31));
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses AUTH_JWKS_URL without AUTH_AUDIENCE, unless AUTH_AUDIENCE_ANY=true says so', async () => {
    const line = await refusedStart({ DATA_DIR: await dataDir(), AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json' });
    expect(line).toMatch(/^Invalid configuration: AUTH_AUDIENCE: must be set with AUTH_JWKS_URL, .*AUTH_AUDIENCE_ANY=true.*\. Fix: /);
  });

  it('embedded mode without AUTH_*: prints a working admin token on the terminal, not in any log line; npm run token signs with the same secret', async () => {
    const dir = await dataDir();
    const server = start({ DATA_DIR: dir, PORT: '0' });
    const { graphqlUrl } = JSON.parse(await server.waitForLine(/"msg":"Hooklane started"/)) as { graphqlUrl: string };
    await server.waitForLine(/^Development admin token/);
    const lines = server.stdout.split('\n');
    const token = lines[lines.findIndex((line) => line.startsWith('Development admin token')) + 1]!;
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const logLines = lines.filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) expect(line).not.toContain(token);

    const ask = async (bearer: string) => {
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ query: ADMIN_QUERY }),
      });
      return { status: response.status, body: (await response.json()) as { errors?: unknown[] } };
    };
    const printed = await ask(token);
    expect(printed.status).toBe(200);
    expect(printed.body.errors).toBeUndefined();

    const cliToken = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['dist/cli/token.js', '--admin'], { cwd: REPO_ROOT, env: { ...cleanEnvironment(), DATA_DIR: dir } });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`token exited ${code}: ${err}`))));
    });
    const fromCli = await ask(cliToken);
    expect(fromCli.status).toBe(200);
    expect(fromCli.body.errors).toBeUndefined();
  });
});
