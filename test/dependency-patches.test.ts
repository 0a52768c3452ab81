import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/database.js';

interface PackageJson {
  version?: string;
  dependencies?: Record<string, string>;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as PackageJson;

/** `<package>+<version>.patch`, patch-package's name for a patch (a scope's slash as `+`). */
function patchedPackage(file: string): { name: string; version: string } {
  const match = /^(.+)\+([^+]+)\.patch$/.exec(file);
  if (!match) throw new Error(`${file} is not named <package>+<version>.patch`);
  return { name: match[1]!.replace('+', '/'), version: match[2]! };
}

const PATCHES = readdirSync('patches').filter((file) => file.endsWith('.patch'));

/**
 * Each patch in patches/ is made for one exact version of its package: package.json must pin that
 * version, so that an install without the lockfile cannot bring another one, and an upgrade fails
 * here until the patch is looked at again.
 */
describe('dependency patches', () => {
  it.each(PATCHES)('%s is pinned in package.json and installed at its version', (file) => {
    const { name, version } = patchedPackage(file);
    expect(readJson('package.json').dependencies?.[name], `${name}'s version in package.json`).toBe(version);
    expect(readJson(`node_modules/${name}/package.json`).version, `${name}'s installed version`).toBe(version);
  });

  it('patches only postgres.js (porsager/postgres#1154)', () => {
    expect(PATCHES.map((file) => patchedPackage(file).name)).toEqual(['postgres']);
  });
});

/**
 * porsager/postgres#1154 (open, with #1066 and #1208): a query sent on a connection whose socket
 * has closed (a reserved connection, or a transaction's, after its backend died) is written from
 * a timer that finds no socket, and the TypeError thrown there ends the process. patches/ makes
 * that write fail the connection's queries with CONNECTION_CLOSED instead.
 *
 * When postgres.js is upgraded, the version test above fails: delete the patch and run this test.
 * If it passes the upstream fix has landed; if the child process crashes, the patch is still needed
 * (make it again for the new version with patch-package).
 */
describe('postgres.js: a query on a connection whose socket has closed (porsager/postgres#1154)', () => {
  // Run in a child process: without the fix the TypeError ends the process it is thrown in.
  const SCRIPT = `
    import postgres from 'postgres';
    let closed;
    const connectionClosed = new Promise((resolve) => (closed = resolve));
    const sql = postgres(process.env.DATABASE_URL, { max: 1, onclose: () => closed(), onnotice: () => {} });
    const admin = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
    const reserved = await sql.reserve();
    const [{ pid }] = await reserved\`select pg_backend_pid() as pid\`;
    await admin\`select pg_terminate_backend(\${pid})\`;
    await connectionClosed;
    const outcome = await reserved\`select 1\`.then(() => 'answered', (error) => 'rejected ' + error.code);
    console.log(JSON.stringify({ outcome }));
    process.exit(0);
  `;

  it('rejects the query with CONNECTION_CLOSED; the process goes on', async () => {
    const databaseUrl = await createTestDatabase();
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000, // a query that never settles: the child is killed, and the outcome is missing
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, stdout: stdout.trim(), stderr: stderr.trim() }).toEqual({
      code: 0,
      stdout: JSON.stringify({ outcome: 'rejected CONNECTION_CLOSED' }),
      stderr: '',
    });
  });
});
