import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHooklane } from '../../src/app.js';
import { signHs256Token } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createEventType, createSubscription, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { createTestDatabase } from '../support/database.js';
import { eventually, TEST_JWT_SECRET, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

type LogLine = Record<string, unknown> & { msg?: string; level: number };

/** A Hooklane like startTestHooklane's, whose logs (level debug) are captured instead of printed. */
async function startCapturedHooklane(): Promise<{ hooklane: TestHooklane; output: string[] }> {
  const output: string[] = [];
  const databaseUrl = await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    DELIVERY_RETRY_SCHEDULE: '50ms,100ms',
    DELIVERY_TIMEOUT: '1s',
    DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true',
    WORKER_CONCURRENCY: '4',
    WORKER_POLL_INTERVAL: '100ms',
    LOG_LEVEL: 'debug',
  });
  const app = await startHooklane(config, createLogger(config.logLevel, { write: (line: string) => void output.push(line) }));
  const graphqlUrl = app.graphqlUrl!;
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const adminToken = await signHs256Token(TEST_JWT_SECRET, { sub: 'test-admin', roles: ['admin'] }, { expiresIn: '1h' });
  const tenantToken = (tenantId: string) =>
    signHs256Token(TEST_JWT_SECRET, { sub: `user-of-${tenantId}`, tenant_id: tenantId }, { expiresIn: '1h' });
  const gql: TestHooklane['gql'] = async (token, query, variables) => {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'log-test', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, ...((await response.json()) as object) };
  };
  const hooklane: TestHooklane = {
    app,
    graphqlUrl,
    databaseUrl,
    sql,
    adminToken,
    tenantToken,
    gql,
    async createTenant(name = 'Tenant') {
      const result = await gql<{ createTenant: { tenant: { id: string } } }>(
        adminToken,
        'mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }',
        { input: { name } },
      );
      const id = result.data!.createTenant.tenant.id;
      return { id, token: await tenantToken(id) };
    },
    async stop() {
      await sql.end({ timeout: 5 });
      await app.stop();
    },
  };
  return { hooklane, output };
}

describe('structured logs', () => {
  let hooklane: TestHooklane;
  let output: string[];
  let receiver: TestReceiver;
  const lines = () => output.map((line) => JSON.parse(line) as LogLine);

  beforeAll(async () => {
    ({ hooklane, output } = await startCapturedHooklane());
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await hooklane?.stop();
    await receiver?.close();
  });

  it('logs operations and attempts, and never a signing secret', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'invoice.paid' });
    const { secret } = await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['invoice.paid'] });
    expect(secret).toMatch(/^whsec_/);
    const event = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { secret, note: `copy of ${secret}` } });
    const delivery = await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
    // A refused request is logged with its error code.
    const refused = await hooklane.gql(tenant.token, 'query Missing($id: ID!) { delivery(id: $id) { id } } ', {});
    expect(refused.errors?.length).toBeGreaterThan(0);

    const attempt = await eventually(
      async () => lines().find((line) => line.msg === 'delivery attempt' && line.deliveryId === delivery.id),
      5_000,
      'the attempt log line',
    );
    expect(attempt).toMatchObject({ level: 20, tenantId: tenant.id, eventId: event.id, outcome: 'SUCCESS', statusCode: 200 });
    expect(typeof attempt.durationMs).toBe('number');

    const operations = lines().filter((line) => line.msg === 'graphql operation');
    const created = operations.find((line) => line.operationType === 'mutation' && line.tenantId === tenant.id);
    expect(created).toMatchObject({ level: 30, requestId: 'log-test', outcome: 'success' });
    expect(typeof created!.durationMs).toBe('number');
    expect(operations.find((line) => line.operationName === 'Missing')).toMatchObject({
      outcome: 'error',
      errorCodes: ['BAD_USER_INPUT'],
      tenantId: tenant.id,
    });

    const everything = output.join('');
    expect(everything).not.toContain('whsec_');
    expect(everything).not.toContain(secret.slice('whsec_'.length));
    expect(everything).not.toContain('Bearer ');
  });
});

describe('redaction', () => {
  it('keeps secrets, tokens and whsec_ strings out of every line', () => {
    const output: string[] = [];
    const logger = createLogger('debug', { write: (line: string) => void output.push(line) });
    const secret = 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=';
    logger.info({ secret, subscription: { secret, url: 'https://x.test' }, input: { subscription: { secrets: [secret] } } }, 'objects');
    logger.info({ headers: { authorization: 'Bearer abc.def.ghi' }, token: 'abc.def.ghi' }, 'headers');
    logger.error({ err: new Error(`signing failed with ${secret}`) }, `message mentioning ${secret} and whsk_AAAA`);
    const everything = output.join('');
    expect(output).toHaveLength(3);
    expect(everything).not.toContain('whsec_');
    expect(everything).not.toContain('whsk_');
    expect(everything).not.toContain('c2VjcmV0LXNlY3JldC1zZWNyZXQ');
    expect(everything).not.toContain('abc.def.ghi');
    expect(JSON.parse(output[0]!)).toMatchObject({ subscription: { secret: '[redacted]', url: 'https://x.test' } });
  });
});
