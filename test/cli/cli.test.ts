import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.js';
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../support/dist.js';
import { TestReceiver } from '../support/receiver.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const SECRET = 'cli-test-secret-that-is-long-enough-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node src/cli/bin.js <args>` (the CLI built in dist/) with a clean Hooklane environment plus `env`. */
function hooklane(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Run> {
  const base: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    // Keep the machine's PATH, HOME, ...; drop any Hooklane setting of the developer's shell.
    if (value !== undefined && !/^(DATABASE_URL|DATABASE_READ_URL|DATA_DIR|AUTH_|DELIVERY_|ROLE$|HOST$|PORT$)/.test(name)) base[name] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...base, LOG_LEVEL: 'silent', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// Each run starts a Node process: allow for a busy machine.
describe('hooklane CLI', { timeout: 120_000 }, () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

  it('prints its usage with --help, and a usage for every subcommand', async () => {
    const help = await hooklane(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['serve', 'api', 'worker', 'migrate', 'token', 'doctor']) expect(help.stdout).toContain(command);
    const commands = ['serve', 'api', 'worker', 'migrate', 'token', 'doctor'];
    const subs = await Promise.all(commands.map((command) => hooklane([command, '--help'])));
    subs.forEach((sub, index) => {
      expect(sub.code, commands[index]).toBe(0);
      expect(sub.stdout, commands[index]).toMatch(/^Usage: /);
    });
    const unknown = await hooklane(['frobnicate']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown command');
  });

  it('token --admin prints a JWT signed with AUTH_JWT_SECRET', async () => {
    const result = await hooklane(['token', '--admin'], { AUTH_JWT_SECRET: SECRET });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(result.stdout.trim(), new TextEncoder().encode(SECRET));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.roles).toEqual(['admin']);

    const tenant = await hooklane(['token', '--tenant', 'ten_123', '--scope', 'events:publish'], { AUTH_JWT_SECRET: SECRET });
    const claims = (await jwtVerify(tenant.stdout.trim(), new TextEncoder().encode(SECRET))).payload;
    expect(claims).toMatchObject({ tenant_id: 'ten_123', scope: 'events:publish' });

    expect((await hooklane(['token'], { AUTH_JWT_SECRET: SECRET })).code).toBe(1);
  });

  it('migrate, then doctor against the migrated database: every check passes', async () => {
    const databaseUrl = await createTestDatabase();
    const env = { DATABASE_URL: databaseUrl, AUTH_JWT_SECRET: SECRET, SECRETS_KEY: Buffer.alloc(32, 3).toString('base64') };

    const before = await hooklane(['doctor'], env);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/^✓ database: /m);
    expect(before.stdout).toMatch(/^✗ migrations: none applied/m);

    const migrated = await hooklane(['migrate'], env);
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toContain('Migrations applied.');

    const receiver = await TestReceiver.start();
    try {
      const doctor = await hooklane(['doctor', '--url', receiver.url], { ...env, DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true' });
      expect(doctor.stdout).not.toContain('✗');
      expect(doctor.code).toBe(0);
      const lines = doctor.stdout.trim().split('\n');
      expect(lines.every((line) => line.startsWith('✓ '))).toBe(true);
      for (const check of ['configuration', 'database', 'migrations', 'job queue', 'authentication', 'secrets', 'receiver']) {
        expect(doctor.stdout).toMatch(new RegExp(`^✓ ${check}`, 'm'));
      }
      expect(receiver.requests.map((request) => request.method)).toEqual(['HEAD']);

      // Without SECRETS_KEY beside DATABASE_URL: a warning naming the development key, not a failure.
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hooklane-cli-'));
      try {
        const { SECRETS_KEY: _unset, ...withoutKey } = env;
        const devKey = await hooklane(['doctor'], { ...withoutKey, DATA_DIR: dataDir });
        expect(devKey.code).toBe(0);
        expect(devKey.stdout).toMatch(new RegExp(`^! secrets: SECRETS_KEY is not set, so signing secrets are sealed with a development key that start-up creates in ${dataDir}/secrets-key, which is for development`, 'm'));
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }

      // The same receiver is refused while private networks are not allowed.
      const refused = await hooklane(['doctor', '--url', receiver.url], env);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/^✗ receiver .*refused/m);
    } finally {
      await receiver.close();
    }
  });

  it('doctor exits 1 with a ✗ line when the database is unreachable', async () => {
    const result = await hooklane(['doctor'], { DATABASE_URL: 'postgres://hooklane:secret@127.0.0.1:1/hooklane', AUTH_JWT_SECRET: SECRET });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^✓ configuration/m);
    expect(result.stdout).toMatch(/^✗ database: .*not reachable/m);
    expect(result.stdout).not.toContain('secret@'); // the password is redacted
  });

  it('token: the development secret is the embedded mode\'s, created once (0600) and reused; refused with DATABASE_URL and no AUTH_*', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'hooklane-cli-'));
    try {
      const dataDir = path.join(folder, 'data');
      const first = await hooklane(['token', '--admin'], { DATA_DIR: dataDir });
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const secretFile = path.join(dataDir, 'dev-jwt-secret');
      expect((await stat(secretFile)).mode & 0o777).toBe(0o600);
      const secret = new TextEncoder().encode((await readFile(secretFile, 'utf8')).trim());
      const second = await hooklane(['token', '--tenant', 'ten_1'], { DATA_DIR: dataDir });
      expect((await jwtVerify(first.stdout.trim(), secret)).payload.roles).toEqual(['admin']);
      expect((await jwtVerify(second.stdout.trim(), secret)).payload.tenant_id).toBe('ten_1');

      const production = await hooklane(['token', '--admin'], { DATA_DIR: dataDir, DATABASE_URL: 'postgres://hooklane@127.0.0.1:1/hooklane' });
      expect(production.code).toBe(1);
      expect(production.stdout).toBe('');
      expect(production.stderr.trim()).toMatch(/^DATABASE_URL is set but neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is.*\. Fix: /);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('doctor reports a short AUTH_JWT_SECRET, a JWKS without audience, DATABASE_URL without AUTH_*, and AUTH_AUDIENCE_ANY', async () => {
    const unreachable = 'postgres://hooklane@127.0.0.1:1/hooklane';
    const short = await hooklane(['doctor'], { DATABASE_URL: unreachable, AUTH_JWT_SECRET: 'short-secret' });
    expect(short.code).toBe(1);
    expect(short.stdout).toMatch(/^✗ configuration: .*AUTH_JWT_SECRET: must be at least 32 bytes/m);
    expect(short.stdout).not.toContain('short-secret');

    const jwks = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}'));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    try {
      const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
      const noAudience = await hooklane(['doctor'], { DATABASE_URL: unreachable, AUTH_JWKS_URL: jwksUrl });
      expect(noAudience.code).toBe(1);
      expect(noAudience.stdout).toMatch(/^✗ configuration: .*AUTH_AUDIENCE: must be set with AUTH_JWKS_URL/m);

      const anyAudience = await hooklane(['doctor'], { DATABASE_URL: unreachable, AUTH_JWKS_URL: jwksUrl, AUTH_AUDIENCE_ANY: 'true' });
      expect(anyAudience.stdout).toMatch(/^! authentication: .*ANY audience \(AUTH_AUDIENCE_ANY=true\).*other applications are accepted/m);
      const withAudience = await hooklane(['doctor'], { DATABASE_URL: unreachable, AUTH_JWKS_URL: jwksUrl, AUTH_AUDIENCE: 'hooklane' });
      expect(withAudience.stdout).toMatch(/^✓ authentication: .*for audience hooklane$/m);
    } finally {
      await new Promise<void>((resolve) => jwks.close(() => resolve()));
    }

    const open = await hooklane(['doctor'], { DATABASE_URL: unreachable });
    expect(open.code).toBe(1);
    expect(open.stdout).toMatch(/^✗ authentication: DATABASE_URL is set but neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is.*the API refuses to start/m);
  });

  it('doctor exits 1 on a configuration error', async () => {
    const result = await hooklane(['doctor'], { DELIVERY_TIMEOUT: 'soon' });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^✗ configuration: .*DELIVERY_TIMEOUT/m);
  });
});
