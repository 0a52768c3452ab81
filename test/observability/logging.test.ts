import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createEventType, createSubscription, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

type LogLine = Record<string, unknown> & { msg?: string; level: number };

/** A Hooklane whose logs (level debug) are captured instead of printed. */
async function startCapturedHooklane(): Promise<{ hooklane: TestHooklane; output: string[] }> {
  const output: string[] = [];
  const hooklane = await startTestHooklane(
    { WORKER_CONCURRENCY: '4', LOG_LEVEL: 'debug' },
    {},
    { logDestination: { write: (line: string) => void output.push(line) }, headers: { 'x-request-id': 'log-test' } },
  );
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

describe('start-up logs', () => {
  it('a start with the default settings warns of nothing', async () => {
    const output: string[] = [];
    const defaults = loadConfig({});
    const hooklane = await startTestHooklane(
      // The test settings' worker concurrency (16) put back to the default, the one graphile-worker warned of.
      { WORKER_CONCURRENCY: String(defaults.worker.concurrency), LOG_LEVEL: 'warn' },
      {},
      { logDestination: { write: (line: string) => void output.push(line) } },
    );
    await hooklane.stop();
    expect(defaults.worker.concurrency).toBeGreaterThan(16);
    expect(output).toEqual([]);
  });
});

describe('log format (LOG_FORMAT)', () => {
  /** What a process that logs one line through createLogger(format) writes to its standard output (a pipe). */
  const logged = (format: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
      const { createLogger } = await import('./src/logger.ts');
      createLogger('info', undefined, '${format}').info({ tenantId: 'ten_1', token: 'eyJ.secret' }, 'tenant created');`], { encoding: 'utf8', timeout: 30_000 });

  it('writes JSON lines when standard output is not a terminal (auto) and when asked (json)', () => {
    for (const format of ['auto', 'json']) {
      const run = logged(format);
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout), format).toMatchObject({ level: 30, msg: 'tenant created', tenantId: 'ten_1', token: '[redacted]' });
    }
  });

  it('writes readable lines, still redacted, when asked (pretty)', () => {
    const run = logged('pretty');
    expect(run.status, run.stderr).toBe(0);
    expect(() => JSON.parse(run.stdout)).toThrow();
    expect(run.stdout).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*: tenant created\n/);
    expect(run.stdout).toContain('tenantId: "ten_1"');
    expect(run.stdout).toContain('token: "[redacted]"');
    expect(run.stdout).not.toContain('eyJ.secret');
  });
});
