import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { signHs256Token } from '../../src/auth/jwt.js';
import { createTestDatabase } from '../support/database.js';
import { eventually, TEST_JWT_SECRET } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';
import { freePort, startServerProcess } from '../support/server-process.js';

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

interface Running {
  child: ChildProcess;
  databaseUrl: string;
  output(): string;
  /** Creates a tenant subscribed to `invoice.paid` at `url`; returns the tenant id and a publish function. */
  subscribedTenant(url: string): Promise<{ tenantId: string; publish(n: number): Promise<void> }>;
}

describe('graceful shutdown (the server entry as a child process)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  /** The server entry on a fresh database and a free port, once it is ready. */
  const startProcess = async (env: Record<string, string>): Promise<Running> => {
    const databaseUrl = await createTestDatabase();
    const port = await freePort();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hooklane-shutdown-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const server = startServerProcess({
      env: {
        DATABASE_URL: databaseUrl,
        DATA_DIR: dataDir,
        HOST: '127.0.0.1',
        PORT: String(port),
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true',
        WORKER_POLL_INTERVAL: '100ms',
        LOG_LEVEL: 'info',
        ...env,
      },
    });
    cleanups.push(() => server.kill());
    const { child } = server;
    const output = () => server.stdout + server.stderr;

    const base = `http://127.0.0.1:${port}`;
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`hooklane exited during start-up:\n${output()}`);
        const response = await fetch(`${base}/readyz`).catch(() => undefined);
        return response?.ok ? true : undefined;
      },
      30_000,
      'hooklane to be ready',
    );
    const gql = async (token: string, query: string, variables: Record<string, unknown> = {}) => {
      const response = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: any; errors?: unknown[] };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    return {
      child,
      databaseUrl,
      output,
      async subscribedTenant(url) {
        const admin = await signHs256Token(TEST_JWT_SECRET, { sub: 'admin', roles: ['admin'] }, { expiresIn: '1h' });
        const tenantId = (await gql(admin, 'mutation { createTenant(input: { name: "T" }) { tenant { id } } }')).createTenant.tenant.id;
        const token = await signHs256Token(TEST_JWT_SECRET, { sub: 'u', tenant_id: tenantId }, { expiresIn: '1h' });
        await gql(token, 'mutation { createEventType(input: { name: "invoice.paid" }) { eventType { id } } }');
        await gql(token, 'mutation($url: String!) { createSubscription(input: { url: $url, eventTypes: ["invoice.paid"] }) { secret } }', { url });
        return {
          tenantId,
          publish: async (n) => {
            await gql(token, 'mutation($n: Int!) { publishEvent(input: { eventType: "invoice.paid", payload: { n: $n } }) { event { id } } }', { n });
          },
        };
      },
    };
  };

  const deliveriesOf = async (databaseUrl: string, tenantId: string) => {
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      return await sql<{ status: string; attempts: number }[]>`
        select d.status, (select count(*)::int from delivery_attempts a where a.delivery_id = d.id) as attempts
        from deliveries d where d.tenant_id = ${tenantId}`;
    } finally {
      await sql.end({ timeout: 5 });
    }
  };

  const startReceiver = async (delayMs: number) => {
    const receiver = await TestReceiver.start();
    cleanups.push(() => receiver.close());
    receiver.replyWith({ status: 200, body: 'ok', delayMs });
    return receiver;
  };

  it('on SIGTERM lets the deliveries in flight finish, records them, then exits 0', async () => {
    const shutdownTimeoutMs = 8_000;
    const receiver = await startReceiver(1_000);
    const running = await startProcess({ SHUTDOWN_TIMEOUT: `${shutdownTimeoutMs}ms`, DELIVERY_TIMEOUT: '5s' });
    const tenant = await running.subscribedTenant(receiver.url);
    const published = 3;
    for (let n = 0; n < published; n++) await tenant.publish(n);

    // All three requests are at the receiver, which holds each for a second: they are in flight.
    await receiver.waitForRequests(published, 10_000);
    const signalledAt = Date.now();
    running.child.kill('SIGTERM');
    const { code, signal } = await exited(running.child);
    const tookMs = Date.now() - signalledAt;

    expect({ code, signal }, running.output()).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(shutdownTimeoutMs);
    expect(running.output()).toContain('"msg":"shutting down"');
    expect(running.output()).toContain('"msg":"stopped"');
    expect(running.output()).not.toContain('SHUTDOWN_TIMEOUT');

    const rows = await deliveriesOf(running.databaseUrl, tenant.tenantId);
    expect(rows.map((row) => row.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(rows.every((row) => row.attempts === 1)).toBe(true);
    expect(receiver.requests).toHaveLength(published);
  });

  it('exits 0 at SHUTDOWN_TIMEOUT when a delivery is still in flight', async () => {
    const receiver = await startReceiver(30_000);
    const running = await startProcess({ SHUTDOWN_TIMEOUT: '1500ms', DELIVERY_TIMEOUT: '60s' });
    const tenant = await running.subscribedTenant(receiver.url);
    await tenant.publish(1);
    await receiver.waitForRequests(1, 10_000);

    const signalledAt = Date.now();
    running.child.kill('SIGTERM');
    const { code } = await exited(running.child);
    const tookMs = Date.now() - signalledAt;

    expect(code, running.output()).toBe(0);
    expect(tookMs).toBeGreaterThanOrEqual(1_400);
    expect(tookMs).toBeLessThan(1_500 + 5_000);
    expect(running.output()).toContain('deliveries still in flight at SHUTDOWN_TIMEOUT');
    // Not recorded: the attempt is abandoned and the delivery stays PENDING for a later attempt.
    const rows = await deliveriesOf(running.databaseUrl, tenant.tenantId);
    expect(rows).toEqual([{ status: 'PENDING', attempts: 0 }]);
  });
});
