import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hooklane } from '../../src/app.js';
import {
  createEventType,
  createSubscription,
  gqlData,
  GraphQLCallError,
  mutate,
  publishBatch,
  waitForDelivery,
} from '../support/graphql-helpers.js';
import { receiverPool } from '../support/fixtures.js';
import { eventually, type GraphQLResponse, startSecondApi, startTestHooklane, tenantIdle, type TestHooklane } from '../support/hooklane.js';

// Contract: QUOTA_EXCEEDED (with extensions.retryAfter in seconds when waiting helps); a refused
// mutation writes nothing. Quotas: QUOTA_* defaults, overridden per tenant by updateTenantQuotas.

const DEFAULTS = {
  publishRate: 50,
  publishBurst: 60,
  eventsPerMonth: 100_000,
  subscriptions: 10,
  eventTypes: 12,
  payloadBytes: 4096,
  deliveriesInFlight: null,
};

const TENANT_FIELDS =
  'id status quotas { publishRate publishBurst eventsPerMonth subscriptions eventTypes payloadBytes deliveriesInFlight } usage { eventsThisMonth subscriptions eventTypes pendingDeliveries deliveriesInFlight }';

const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';

let hooklane: TestHooklane;

beforeAll(async () => {
  hooklane = await startTestHooklane({
    QUOTA_PUBLISH_RATE: String(DEFAULTS.publishRate),
    QUOTA_PUBLISH_BURST: String(DEFAULTS.publishBurst),
    QUOTA_EVENTS_PER_MONTH: String(DEFAULTS.eventsPerMonth),
    QUOTA_SUBSCRIPTIONS: String(DEFAULTS.subscriptions),
    QUOTA_EVENT_TYPES: String(DEFAULTS.eventTypes),
    QUOTA_PAYLOAD_BYTES: String(DEFAULTS.payloadBytes),
  });
});

afterAll(async () => {
  await hooklane?.stop();
});

async function tenantOf(token: string): Promise<Record<string, any>> {
  const data = await gqlData<{ tenant: Record<string, any> }>(hooklane, token, `{ tenant { ${TENANT_FIELDS} } }`);
  return data.tenant;
}

async function setQuotas(tenantId: string, quotas: Record<string, number | null>): Promise<Record<string, any>> {
  const payload = await mutate<{ tenant: Record<string, any> }>(
    hooklane,
    hooklane.adminToken,
    'updateTenantQuotas',
    { tenantId, ...quotas },
    `tenant { ${TENANT_FIELDS} }`,
  );
  return payload.tenant;
}

async function eventCount(tenantId: string): Promise<number> {
  const [row] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from events where tenant_id = ${tenantId}`;
  return row!.count;
}

async function tableCount(table: 'subscriptions' | 'event_types', tenantId: string): Promise<number> {
  const [row] = await hooklane.sql.unsafe<{ count: number }[]>(`select count(*)::int as count from ${table} where tenant_id = $1`, [tenantId]);
  return row!.count;
}

function publishRaw(target: { gql: TestHooklane['gql'] }, token: string, payload: unknown = { n: 1 }): Promise<GraphQLResponse> {
  return target.gql(token, PUBLISH, { input: { eventType: 'quota.test', payload } });
}

function errorOf(response: GraphQLResponse) {
  expect(response.errors, JSON.stringify(response)).toHaveLength(1);
  return response.errors![0]!;
}

async function tenantWithType(name: string): Promise<{ id: string; token: string }> {
  const tenant = await hooklane.createTenant(name);
  await createEventType(hooklane, tenant.token, { name: 'quota.test' });
  return tenant;
}

describe('quota settings', () => {
  it('shows the configured defaults and zero usage for a new tenant', async () => {
    const tenant = await hooklane.createTenant('defaults');
    const seen = await tenantOf(tenant.token);
    expect(seen.status).toBe('ACTIVE');
    expect(seen.quotas).toEqual(DEFAULTS);
    expect(seen.usage).toEqual({ eventsThisMonth: 0, subscriptions: 0, eventTypes: 0, pendingDeliveries: 0, deliveriesInFlight: 0 });
  });

  it('lets an admin override quotas, keeps omitted ones, and resets a null one to the default', async () => {
    const tenant = await hooklane.createTenant('overrides');
    let seen = await setQuotas(tenant.id, { subscriptions: 3, publishRate: 7, deliveriesInFlight: 4 });
    expect(seen.quotas).toEqual({ ...DEFAULTS, subscriptions: 3, publishRate: 7, deliveriesInFlight: 4 });
    expect((await tenantOf(tenant.token)).quotas).toEqual(seen.quotas);

    seen = await setQuotas(tenant.id, { eventTypes: 5 });
    expect(seen.quotas).toEqual({ ...DEFAULTS, subscriptions: 3, publishRate: 7, deliveriesInFlight: 4, eventTypes: 5 });

    seen = await setQuotas(tenant.id, { subscriptions: null, deliveriesInFlight: null });
    expect(seen.quotas).toEqual({ ...DEFAULTS, publishRate: 7, eventTypes: 5 });
    expect((await tenantOf(tenant.token)).quotas).toEqual(seen.quotas);
  });

  it('refuses updateTenantQuotas to a tenant token (FORBIDDEN) and changes nothing', async () => {
    const tenant = await hooklane.createTenant('not-admin');
    const response = await hooklane.gql(
      tenant.token,
      'mutation($input: UpdateTenantQuotasInput!) { updateTenantQuotas(input: $input) { tenant { id } } }',
      { input: { tenantId: tenant.id, subscriptions: 1_000_000 } },
    );
    expect(errorOf(response).extensions?.code).toBe('FORBIDDEN');
    expect((await tenantOf(tenant.token)).quotas).toEqual(DEFAULTS);
  });

  it('answers NOT_FOUND for an unknown tenant and BAD_USER_INPUT for a quota below 1', async () => {
    const unknown = await hooklane.gql(
      hooklane.adminToken,
      'mutation($input: UpdateTenantQuotasInput!) { updateTenantQuotas(input: $input) { tenant { id } } }',
      { input: { tenantId: 'tenant_doesnotexist', subscriptions: 3 } },
    );
    expect(errorOf(unknown).extensions?.code).toBe('NOT_FOUND');
    const tenant = await hooklane.createTenant('bad-quota');
    const bad = await hooklane.gql(
      hooklane.adminToken,
      'mutation($input: UpdateTenantQuotasInput!) { updateTenantQuotas(input: $input) { tenant { id } } }',
      { input: { tenantId: tenant.id, subscriptions: 0 } },
    );
    expect(errorOf(bad).extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('publish rate', () => {
  it('admits the burst, refuses the next with retryAfter and writes nothing, then admits after retryAfter', async () => {
    const tenant = await tenantWithType('rate');
    // Burst 5 at 1/s rather than 5/s: at 5/s a token refills every 200 ms, which a loaded machine
    // spends on the first five requests, making the sixth admissible.
    await setQuotas(tenant.id, { publishRate: 1, publishBurst: 5 });

    const first = await Promise.all(Array.from({ length: 5 }, (_, n) => publishRaw(hooklane, tenant.token, { n })));
    for (const response of first) expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
    expect(await eventCount(tenant.id)).toBe(5);

    const refused = await publishRaw(hooklane, tenant.token, { n: 6 });
    const error = errorOf(refused);
    expect(error.extensions?.code).toBe('QUOTA_EXCEEDED');
    const retryAfter = error.extensions?.retryAfter as number;
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    expect(refused.data?.publishEvent ?? null).toBeNull();
    expect(await eventCount(tenant.id)).toBe(5);
    // A refused publish is not counted against the month either.
    expect((await tenantOf(tenant.token)).usage.eventsThisMonth).toBe(5);

    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    const again = await publishRaw(hooklane, tenant.token, { n: 7 });
    expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
    expect(await eventCount(tenant.id)).toBe(6);
  });

  it('refuses a publishEvents batch larger than the burst without retryAfter, writing nothing', async () => {
    const tenant = await tenantWithType('batch');
    await setQuotas(tenant.id, { publishRate: 5, publishBurst: 5 });
    const response = await publishBatch(
      hooklane,
      tenant.token,
      Array.from({ length: 6 }, (_, n) => ({ eventType: 'quota.test', payload: { n } })),
    );
    const error = errorOf(response);
    expect(error.extensions?.code).toBe('QUOTA_EXCEEDED');
    expect(error.extensions).not.toHaveProperty('retryAfter');
    expect(await eventCount(tenant.id)).toBe(0);
    expect((await tenantOf(tenant.token)).usage.eventsThisMonth).toBe(0);

    // The whole burst was left untouched: a batch of exactly the burst still goes through.
    const ok = await publishBatch(
      hooklane,
      tenant.token,
      Array.from({ length: 5 }, (_, n) => ({ eventType: 'quota.test', payload: { n } })),
    );
    expect(ok.errors, JSON.stringify(ok.errors)).toBeUndefined();
    expect(await eventCount(tenant.id)).toBe(5);
  });
});

describe('events per month', () => {
  it('admits the monthly quota, then refuses with retryAfter until next month', async () => {
    const tenant = await tenantWithType('monthly');
    await setQuotas(tenant.id, { eventsPerMonth: 3 });
    for (let n = 0; n < 3; n += 1) {
      const response = await publishRaw(hooklane, tenant.token, { n });
      expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
    }
    const refused = await publishRaw(hooklane, tenant.token, { n: 4 });
    const error = errorOf(refused);
    expect(error.extensions?.code).toBe('QUOTA_EXCEEDED');

    const now = new Date();
    const expected = Math.ceil((Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime()) / 1000);
    const retryAfter = error.extensions?.retryAfter as number;
    expect(retryAfter).toBeGreaterThan(0);
    expect(Math.abs(retryAfter - expected)).toBeLessThanOrEqual(5);

    expect(await eventCount(tenant.id)).toBe(3);
    expect((await tenantOf(tenant.token)).usage.eventsThisMonth).toBe(3);

    // The refusal gave its rate token back: once the monthly quota is raised, publishing works.
    await setQuotas(tenant.id, { eventsPerMonth: 4 });
    const after = await publishRaw(hooklane, tenant.token, { n: 5 });
    expect(after.errors, JSON.stringify(after.errors)).toBeUndefined();
    expect((await tenantOf(tenant.token)).usage.eventsThisMonth).toBe(4);
  });
});

describe('object quotas', () => {
  it('refuses a subscription past the quota and writes nothing', async () => {
    const tenant = await tenantWithType('subs');
    await setQuotas(tenant.id, { subscriptions: 2 });
    await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/a', eventTypes: ['quota.test'] });
    await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/b', eventTypes: ['quota.test'] });
    const error = await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/c', eventTypes: ['quota.test'] }).then(
      () => undefined,
      (e: GraphQLCallError) => e,
    );
    expect(error?.code).toBe('QUOTA_EXCEEDED');
    expect(await tableCount('subscriptions', tenant.id)).toBe(2);
    const usage = (await tenantOf(tenant.token)).usage;
    expect(usage.subscriptions).toBe(2);
    const [audits] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from audit_log where tenant_id = ${tenant.id} and action = 'createSubscription'`;
    expect(audits!.count).toBe(2);
  });

  it('refuses an event type past the quota and writes nothing', async () => {
    const tenant = await hooklane.createTenant('types');
    await setQuotas(tenant.id, { eventTypes: 2 });
    await createEventType(hooklane, tenant.token, { name: 'a.one' });
    await createEventType(hooklane, tenant.token, { name: 'a.two' });
    const error = await createEventType(hooklane, tenant.token, { name: 'a.three' }).then(
      () => undefined,
      (e: GraphQLCallError) => e,
    );
    expect(error?.code).toBe('QUOTA_EXCEEDED');
    expect(await tableCount('event_types', tenant.id)).toBe(2);
    expect((await tenantOf(tenant.token)).usage.eventTypes).toBe(2);
  });

  it('refuses a payload bigger than payloadBytes as BAD_USER_INPUT (input validation), writing nothing', async () => {
    const tenant = await tenantWithType('payload');
    await setQuotas(tenant.id, { payloadBytes: 200 });
    const small = await publishRaw(hooklane, tenant.token, { note: 'x'.repeat(20) });
    expect(small.errors, JSON.stringify(small.errors)).toBeUndefined();
    const big = await publishRaw(hooklane, tenant.token, { note: 'x'.repeat(300) });
    const error = errorOf(big);
    expect(error.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error.message).toContain('200');
    expect(await eventCount(tenant.id)).toBe(1);
    expect((await tenantOf(tenant.token)).usage.eventsThisMonth).toBe(1);
  });
});

/**
 * Publishes 5 events to a subscription whose receiver answers after 300 ms, waits until all are
 * delivered, and returns the most requests the receiver ever held at once.
 */
async function peakConcurrency(target: TestHooklane, token: string): Promise<{ peak: number; seen: number }> {
  let current = 0;
  let peak = 0;
  let seen = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      current += 1;
      seen += 1;
      peak = Math.max(peak, current);
      setTimeout(() => {
        current -= 1;
        res.writeHead(200).end('ok');
      }, 300);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as { port: number }).port;
    await createSubscription(target, token, { url: `http://127.0.0.1:${port}/hook`, eventTypes: ['quota.test'] });
    const events = await Promise.all(
      Array.from({ length: 5 }, async (_, n) => {
        const data = await gqlData<{ publishEvent: { event: { id: string; deliveries: { id: string }[] } } }>(
          target,
          token,
          'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id deliveries { id } } } }',
          { input: { eventType: 'quota.test', payload: { n } } },
        );
        return data.publishEvent.event;
      }),
    );
    const deliveryIds = events.flatMap((event) => event.deliveries.map((d) => d.id));
    expect(deliveryIds).toHaveLength(5);
    for (const id of deliveryIds) {
      const delivery = await waitForDelivery(target, token, id, undefined, 25_000);
      expect(delivery.status).toBe('SUCCEEDED');
    }
    return { peak, seen };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('deliveries in flight', () => {
  it('a tenant override (updateTenantQuotas deliveriesInFlight: 1) keeps at most 1 delivery at the receiver', async () => {
    const tenant = await tenantWithType('inflight');
    await setQuotas(tenant.id, { deliveriesInFlight: 1 });
    const { peak, seen } = await peakConcurrency(hooklane, tenant.token);
    expect(seen).toBe(5);
    expect(peak).toBe(1);
  }, 40_000);

  it('the configured default (QUOTA_DELIVERIES_IN_FLIGHT=1) keeps at most 1 delivery at the receiver', async () => {
    const other = await startTestHooklane({ QUOTA_DELIVERIES_IN_FLIGHT: '1' });
    try {
      const tenant = await other.createTenant('inflight-default');
      await createEventType(other, tenant.token, { name: 'quota.test' });
      const { peak, seen } = await peakConcurrency(other, tenant.token);
      expect(seen).toBe(5);
      expect(peak).toBe(1);
    } finally {
      await other.stop();
    }
  }, 40_000);
});

describe('publish rate across two API processes', () => {
  let second: Hooklane | undefined;

  afterAll(async () => {
    await second?.stop();
  });

  it('admits exactly the shared burst when two processes publish for one tenant at once', async () => {
    const secondApi = await startSecondApi(hooklane);
    second = secondApi.app;
    const secondGql = secondApi.gql;

    const tenant = await tenantWithType('race');
    // A sustained rate of 1/s keeps the refill during the race negligible, so the burst is the
    // number that must be admitted (with 20/s the bucket would refill while the 60 requests run).
    await setQuotas(tenant.id, { publishRate: 1, publishBurst: 20 });
    // Warm up both processes' tenant caches and connections without spending the burst.
    await gqlData(hooklane, tenant.token, '{ tenant { id } }');
    expect((await secondGql(tenant.token, '{ tenant { id } }')).errors).toBeUndefined();

    const started = Date.now();
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, n) => publishRaw(n % 2 === 0 ? hooklane : { gql: secondGql }, tenant.token, { n })),
    );
    const elapsedSeconds = (Date.now() - started) / 1000;
    const succeeded = responses.filter((r) => !r.errors && r.data?.publishEvent?.event?.id);
    const refused = responses.filter((r) => r.errors?.[0]?.extensions?.code === 'QUOTA_EXCEEDED');
    expect(succeeded.length + refused.length, JSON.stringify(responses.filter((r) => r.errors && !refused.includes(r)))).toBe(60);
    // Exactly the burst, plus at most what the 1/s rate refilled while the race ran.
    expect(succeeded.length).toBeGreaterThanOrEqual(20);
    expect(succeeded.length).toBeLessThanOrEqual(20 + Math.floor(elapsedSeconds));
    if (elapsedSeconds < 1) expect(succeeded.length).toBe(20);
    expect(await eventCount(tenant.id)).toBe(succeeded.length);
    expect((await tenantOf(tenant.token)).usage.eventsThisMonth).toBe(succeeded.length);
  });
});

describe('re-sends take the publish rate', () => {
  // Contract (issue 22): every delivery that retryDelivery, replayEvent or recoverSubscription
  // creates or re-sends takes one token of the tenant's publish rate, not of eventsPerMonth; over
  // it the answer is QUOTA_EXCEEDED with retryAfter and nothing is written. Rates of 1-2/s keep
  // what the bucket refills while a test runs small next to the burst; the bounds below allow it.
  const receivers = receiverPool();
  const REPLAY = 'mutation($input: ReplayEventInput!) { replayEvent(input: $input) { deliveries { id } } }';
  const RETRY = 'mutation($input: RetryDeliveryInput!) { retryDelivery(input: $input) { delivery { id } } }';
  const RECOVER = 'mutation($input: RecoverSubscriptionInput!) { recoverSubscription(input: $input) { deliveryCount } }';
  const secondsSince = (start: number) => (Date.now() - start) / 1000;

  afterAll(async () => {
    await receivers.closeAll();
  });

  async function deliveriesOfEvent(eventId: string): Promise<number> {
    const [row] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from deliveries where event_id = ${eventId}`;
    return row!.count;
  }

  async function auditEntries(tenantId: string, action: string): Promise<number> {
    const [row] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from audit_log where tenant_id = ${tenantId} and action = ${action}`;
    return row!.count;
  }

  async function publishOne(token: string, payload: unknown): Promise<{ id: string; deliveries: { id: string }[] }> {
    const data = await gqlData<{ publishEvent: { event: { id: string; deliveries: { id: string }[] } } }>(
      hooklane,
      token,
      'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id deliveries { id } } } }',
      { input: { eventType: 'quota.test', payload } },
    );
    return data.publishEvent.event;
  }

  /** Calls `call` one after another until it is refused (at most 50 times), and returns the responses. */
  async function untilRefused(call: () => Promise<GraphQLResponse>): Promise<GraphQLResponse[]> {
    const responses: GraphQLResponse[] = [];
    while (responses.length < 50 && !responses.at(-1)?.errors) responses.push(await call());
    return responses;
  }

  /** Splits responses into the admitted and the QUOTA_EXCEEDED ones; anything else fails the test. */
  function admittedAndRefused(responses: GraphQLResponse[]) {
    const admitted = responses.filter((response) => !response.errors);
    const refused = responses.filter((response) => response.errors?.[0]?.extensions?.code === 'QUOTA_EXCEEDED');
    expect(admitted.length + refused.length, JSON.stringify(responses.filter((r) => r.errors && !refused.includes(r)))).toBe(responses.length);
    return { admitted, refused };
  }

  it('replayEvent: a tenant whose 1-event month is spent replays only as fast as its publish rate, and a refused replay writes nothing', async () => {
    const tenant = await tenantWithType('replays');
    await setQuotas(tenant.id, { publishRate: 1, publishBurst: 3, eventsPerMonth: 1 });
    const receiver = await receivers.start();
    await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['quota.test'] });
    const started = Date.now();
    const event = await publishOne(tenant.token, { n: 1 });
    // The month's one event is spent: another publish is refused...
    expect(errorOf(await publishRaw(hooklane, tenant.token, { n: 2 })).extensions?.code).toBe('QUOTA_EXCEEDED');

    // ...but replays are not new events: they spend the rate's tokens, one per delivery.
    const { admitted, refused } = admittedAndRefused(await untilRefused(() => hooklane.gql(tenant.token, REPLAY, { input: { id: event.id } })));
    // The burst of 3 less the publish's token, plus at most what 1/s refilled since the publish.
    expect(refused).toHaveLength(1);
    expect(admitted.length).toBeGreaterThanOrEqual(2);
    expect(admitted.length).toBeLessThanOrEqual(2 + Math.floor(secondsSince(started)));
    const error = refused[0]!.errors![0]!;
    expect(error.message).toMatch(/publish rate/i);
    expect(error.extensions?.retryAfter).toBe(1);
    expect(refused[0]!.data?.replayEvent ?? null).toBeNull();

    // One delivery per admitted replay and none for the refused ones; the month is still at 1.
    expect(await deliveriesOfEvent(event.id)).toBe(1 + admitted.length);
    expect(await auditEntries(tenant.id, 'replayEvent')).toBe(admitted.length);
    expect((await tenantOf(tenant.token)).usage.eventsThisMonth).toBe(1);
  });

  it('replayEvent to more subscriptions than the burst is refused without retryAfter, writing nothing', async () => {
    const tenant = await tenantWithType('replay-burst');
    await setQuotas(tenant.id, { publishRate: 1, publishBurst: 2 });
    const receiver = await receivers.start();
    for (const path of ['a', 'b', 'c']) {
      await createSubscription(hooklane, tenant.token, { url: `${receiver.url}/${path}`, eventTypes: ['quota.test'] });
    }
    const event = await publishOne(tenant.token, { n: 1 });
    expect(event.deliveries).toHaveLength(3);

    const response = await hooklane.gql(tenant.token, REPLAY, { input: { id: event.id } });
    const error = errorOf(response);
    expect(error.extensions?.code).toBe('QUOTA_EXCEEDED');
    expect(error.message).toMatch(/publish burst/i);
    expect(error.extensions).not.toHaveProperty('retryAfter');
    expect(await deliveriesOfEvent(event.id)).toBe(3);
    expect(await auditEntries(tenant.id, 'replayEvent')).toBe(0);
  });

  it('retryDelivery takes one token per retry: retried in a loop, it is refused with retryAfter', async () => {
    const tenant = await tenantWithType('retries');
    await setQuotas(tenant.id, { publishRate: 1, publishBurst: 2 });
    const receiver = await receivers.start();
    receiver.replyWith({ status: 500, body: 'down' });
    await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['quota.test'] });
    const started = Date.now();
    const event = await publishOne(tenant.token, { n: 1 });
    const deliveryId = event.deliveries[0]!.id;
    await waitForDelivery(hooklane, tenant.token, deliveryId, 'FAILED');

    const { admitted, refused } = admittedAndRefused(await untilRefused(() => hooklane.gql(tenant.token, RETRY, { input: { id: deliveryId } })));
    expect(refused).toHaveLength(1);
    expect(admitted.length).toBeGreaterThanOrEqual(1);
    expect(admitted.length).toBeLessThanOrEqual(1 + Math.floor(secondsSince(started)));
    expect(refused[0]!.errors![0]!.extensions?.retryAfter).toBe(1);
    expect(await auditEntries(tenant.id, 'retryDelivery')).toBe(admitted.length);
  });

  it('recoverSubscription re-sends at the publish rate, each FAILED delivery once, and is refused while the bucket is empty', async () => {
    const tenant = await tenantWithType('recovery');
    const receiver = await receivers.start();
    receiver.replyWith({ status: 503, body: 'down' });
    const { subscription } = await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['quota.test'] });
    const since = new Date(Date.now() - 1_000).toISOString();
    const deliveryIds: string[] = [];
    for (let n = 0; n < 6; n++) deliveryIds.push((await publishOne(tenant.token, { n })).deliveries[0]!.id);
    for (const id of deliveryIds) await waitForDelivery(hooklane, tenant.token, id, 'FAILED');
    expect(receiver.requests).toHaveLength(18);

    // 2 tokens now, 2 more each second: the six cannot all go at once. The receiver still fails,
    // so each recovered delivery fails again (one attempt: its retry schedule is spent), and must
    // not be recovered a second time.
    await setQuotas(tenant.id, { publishRate: 2, publishBurst: 2 });
    const started = Date.now();
    const recovered = await gqlData<{ recoverSubscription: { deliveryCount: number } }>(hooklane, tenant.token, RECOVER, {
      input: { id: subscription.id, since },
    });
    expect(recovered.recoverSubscription.deliveryCount).toBe(6);
    await eventually(
      async () => {
        const rows = await hooklane.sql<{ status: string; attempts: number }[]>`
          select status::text as status, attempt_count as attempts from deliveries where subscription_id = ${subscription.id}`;
        const reopened = rows.filter((row) => row.status !== 'FAILED' || row.attempts > 3).length;
        // Never more re-sent than the burst plus what the rate refilled since the call.
        expect(reopened).toBeLessThanOrEqual(2 + Math.floor(2 * secondsSince(started)));
        return rows.every((row) => row.status === 'FAILED' && row.attempts === 4) ? true : undefined;
      },
      15_000,
      'every delivery recovered once and failed again',
    );
    await tenantIdle(hooklane, tenant.id);
    expect(receiver.requests).toHaveLength(24);
    expect((await tenantOf(tenant.token)).usage.eventsThisMonth).toBe(6);

    // An empty bucket: the recovery is refused, and no job is left to start it later.
    await setQuotas(tenant.id, { publishRate: 1, publishBurst: 1 });
    await eventually(async () => ((await publishRaw(hooklane, tenant.token, { n: 'drain' })).errors ? true : undefined), 5_000, 'the bucket to run dry');
    const refused = errorOf(await hooklane.gql(tenant.token, RECOVER, { input: { id: subscription.id, since } }));
    expect(refused.extensions?.code).toBe('QUOTA_EXCEEDED');
    expect(refused.extensions?.retryAfter).toBe(1);
    const [jobs] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from graphile_worker._private_jobs
      where payload->>'tenantId' = ${tenant.id} and payload->>'since' is not null`;
    expect(jobs!.count).toBe(0);
    expect(await auditEntries(tenant.id, 'recoverSubscription')).toBe(1);
  }, 30_000);

  it('re-sent deliveries count toward deliveriesInFlight like published ones', async () => {
    const tenant = await tenantWithType('resend-inflight');
    await setQuotas(tenant.id, { deliveriesInFlight: 1 });
    const receiver = await receivers.start();
    receiver.replyWith({ status: 200, body: 'ok', delayMs: 150 });
    for (const path of ['a', 'b', 'c']) {
      await createSubscription(hooklane, tenant.token, { url: `${receiver.url}/${path}`, eventTypes: ['quota.test'] });
    }
    const event = await publishOne(tenant.token, { n: 1 });
    for (const delivery of event.deliveries) await waitForDelivery(hooklane, tenant.token, delivery.id, 'SUCCEEDED');
    receiver.maxInFlight = 0;

    const replayed = await gqlData<{ replayEvent: { deliveries: { id: string }[] } }>(hooklane, tenant.token, REPLAY, { input: { id: event.id } });
    expect(replayed.replayEvent.deliveries).toHaveLength(3);
    for (const delivery of replayed.replayEvent.deliveries) await waitForDelivery(hooklane, tenant.token, delivery.id, 'SUCCEEDED', 25_000);
    expect(receiver.requests).toHaveLength(6);
    expect(receiver.maxInFlight).toBe(1);
  }, 40_000);
});
