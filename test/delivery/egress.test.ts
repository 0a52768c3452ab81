import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResolver } from '../../src/delivery/http-sender.js';
import { createEventType, createSubscription, gqlData, GraphQLCallError, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

// Contract: with DELIVERY_ALLOW_PRIVATE_NETWORKS=false, deliveries to loopback, private,
// link-local and metadata addresses are refused. Host names are resolved at delivery time
// (through the resolver seam here: no DNS, and no packet ever leaves 127.0.0.1).

const MAPPED: Record<string, LookupAddress[]> = {
  'internal.example': [{ address: '127.0.0.1', family: 4 }],
  'metadata.example': [{ address: '169.254.169.254', family: 4 }],
  'mapped.example': [{ address: '::ffff:127.0.0.1', family: 6 }],
  // TEST-NET-3: reserved, so the policy refuses it before any connect.
  'public.example': [{ address: '203.0.113.10', family: 4 }],
};

const resolverCalls: string[] = [];
let rebindingCalls = 0;

/**
 * Maps the names above; `rebind.example` answers 127.0.0.1 the first time and, later, a name
 * that does not resolve (never a routable public address, so that no attempt could leave the machine).
 */
const resolver: HostResolver = (hostname, callback) => {
  resolverCalls.push(hostname);
  if (hostname === 'rebind.example') {
    rebindingCalls += 1;
    if (rebindingCalls === 1) return callback(null, [{ address: '127.0.0.1', family: 4 }]);
    return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
  }
  const answer = MAPPED[hostname];
  if (!answer) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
  return callback(null, answer);
};

let hooklane: TestHooklane;
let httpsOnly: TestHooklane;
let receiver: TestReceiver;
let tenant: { id: string; token: string };

const EVENT_WITH_ATTEMPTS =
  'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id deliveries { id subscription { id } } } } }';

beforeAll(async () => {
  receiver = await TestReceiver.start();
  hooklane = await startTestHooklane({ DELIVERY_ALLOW_PRIVATE_NETWORKS: 'false' }, { resolver });
  tenant = await hooklane.createTenant('egress');
  await createEventType(hooklane, tenant.token, { name: 'egress.test' });
});

afterAll(async () => {
  await hooklane?.stop();
  await httpsOnly?.stop();
  await receiver?.close();
});

async function createError(target: TestHooklane, token: string, url: string): Promise<string | undefined> {
  return createSubscription(target, token, { url, eventTypes: ['egress.test'] }).then(
    () => undefined,
    (error: GraphQLCallError) => error.code,
  );
}

async function attemptsOf(deliveryId: string): Promise<{ status: string; attempts: { outcome: string; error: string | null; statusCode: number | null }[] }> {
  const data = await gqlData<{ delivery: { status: string; attempts: { outcome: string; error: string | null; statusCode: number | null }[] } }>(
    hooklane,
    tenant.token,
    'query($id: ID!) { delivery(id: $id) { status attempts { outcome error statusCode } } }',
    { id: deliveryId },
  );
  return data.delivery;
}

describe('host names resolved at delivery time', () => {
  const port = () => new URL(receiver.url).port;

  it.each([
    ['internal.example', '127.0.0.1'],
    ['metadata.example', '169.254.169.254'],
    ['mapped.example', '127.0.0.1'],
    ['public.example', '203.0.113.10'],
  ])('accepts a subscription to %s, then refuses every attempt to %s', async (host, address) => {
    // Names are not resolved when the subscription is created.
    const { subscription } = await createSubscription(hooklane, tenant.token, {
      url: `http://${host}:${port()}/webhook`,
      eventTypes: ['egress.test'],
    });
    const data = await gqlData<{ publishEvent: { event: { deliveries: { id: string; subscription: { id: string } }[] } } }>(
      hooklane,
      tenant.token,
      EVENT_WITH_ATTEMPTS,
      { input: { eventType: 'egress.test', payload: { host } } },
    );
    const delivery = data.publishEvent.event.deliveries.find((d) => d.subscription.id === subscription.id)!;
    await waitForDelivery(hooklane, tenant.token, delivery.id, 'FAILED');
    const seen = await attemptsOf(delivery.id);
    expect(seen.attempts.length).toBeGreaterThan(0);
    for (const attempt of seen.attempts) {
      expect(attempt.outcome).toBe('REFUSED');
      expect(attempt.statusCode).toBeNull();
      expect(attempt.error).toContain(address);
    }
    expect(resolverCalls).toContain(host);
    // Every delivery in this block is refused, so the receiver has never been reached.
    expect(receiver.requests).toHaveLength(0);
    await gqlData(hooklane, tenant.token, 'mutation($input: DeleteSubscriptionInput!) { deleteSubscription(input: $input) { id } }', {
      input: { id: subscription.id },
    });
  });

  it('refuses a rebinding name that answers 127.0.0.1 at delivery time; the receiver gets nothing', async () => {
    const { subscription } = await createSubscription(hooklane, tenant.token, {
      url: `http://rebind.example:${port()}/webhook`,
      eventTypes: ['egress.test'],
    });
    const data = await gqlData<{ publishEvent: { event: { deliveries: { id: string; subscription: { id: string } }[] } } }>(
      hooklane,
      tenant.token,
      EVENT_WITH_ATTEMPTS,
      { input: { eventType: 'egress.test', payload: { rebind: true } } },
    );
    const delivery = data.publishEvent.event.deliveries.find((d) => d.subscription.id === subscription.id)!;
    await waitForDelivery(hooklane, tenant.token, delivery.id, 'FAILED');
    const seen = await attemptsOf(delivery.id);
    expect(seen.attempts[0]!.outcome).toBe('REFUSED');
    expect(seen.attempts[0]!.error).toContain('127.0.0.1');
    // One resolution per attempt: the address vetted is the address connected to.
    expect(rebindingCalls).toBe(seen.attempts.length);
    for (const attempt of seen.attempts.slice(1)) expect(attempt.outcome).toBe('DNS_ERROR');
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('literal addresses at create time', () => {
  it.each([
    'http://127.0.0.1/',
    'http://127.1.2.3:8080/x',
    'http://[::1]/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:7f00:1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://100.64.0.1/',
    'http://10.0.0.1/',
    'http://192.168.1.1/',
    'http://0.0.0.0/',
    'http://2130706433/',
    'http://0x7f.1/',
    'http://localhost/',
    'http://LOCALHOST./',
    'http://api.localhost/',
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (url) => {
    const [before] = await hooklane.sql`select count(*)::int as count from subscriptions where tenant_id = ${tenant.id}`;
    expect(await createError(hooklane, tenant.token, url)).toBe('BAD_USER_INPUT');
    const [after] = await hooklane.sql`select count(*)::int as count from subscriptions where tenant_id = ${tenant.id}`;
    expect(after!.count).toBe(before!.count);
  });

  it('refuses the same literals on updateSubscription', async () => {
    const { subscription } = await createSubscription(hooklane, tenant.token, { url: 'https://hooks.example/ok', eventTypes: ['egress.test'] });
    for (const url of ['http://127.0.0.1/', 'http://[::1]/', 'http://169.254.169.254/']) {
      const response = await hooklane.gql(
        tenant.token,
        'mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { url } } }',
        { input: { id: subscription.id, url } },
      );
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    const [row] = await hooklane.sql`select url from subscriptions where id = ${subscription.id}`;
    expect(row!.url).toBe('https://hooks.example/ok');
  });
});

describe('DELIVERY_HTTPS_ONLY', () => {
  it('refuses http:// and accepts https:// at create', async () => {
    httpsOnly = await startTestHooklane({ DELIVERY_ALLOW_PRIVATE_NETWORKS: 'false', DELIVERY_HTTPS_ONLY: 'true' }, { resolver });
    const other = await httpsOnly.createTenant('https-only');
    await createEventType(httpsOnly, other.token, { name: 'egress.test' });
    expect(await createError(httpsOnly, other.token, 'http://hooks.example/webhook')).toBe('BAD_USER_INPUT');
    const { subscription } = await createSubscription(httpsOnly, other.token, {
      url: 'https://hooks.example/webhook',
      eventTypes: ['egress.test'],
    });
    expect(subscription.url).toBe('https://hooks.example/webhook');
    const update = await httpsOnly.gql(
      other.token,
      'mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { url } } }',
      { input: { id: subscription.id, url: 'http://hooks.example/webhook' } },
    );
    expect(update.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const [count] = await httpsOnly.sql`select count(*)::int as count from subscriptions`;
    expect(count!.count).toBe(1);
  });
});
