/**
 * `WebhookSubscription.stats` and `Tenant.stats`, end to end: real receivers answer 200 or 500 (a
 * short retry schedule, so failing deliveries end FAILED), the worker records the attempts, and
 * the stats read back what happened, per subscription and per tenant, never another tenant's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoaders } from '../../src/api/loaders.js';
import { connectDatabase } from '../../src/db/client.js';
import { APP_ROLE } from '../../src/db/migrate.js';
import { TenantScope } from '../../src/db/tenant-scope.js';
import { createEventType, createSubscription, gqlData, gqlErrorCode, publish, updateSubscription, waitForDelivery } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { Hold, TestReceiver } from '../support/receiver.js';

interface Stats {
  deliveries: number;
  succeeded: number;
  failed: number;
  pending: number;
  held: number;
  attempts: number;
  successRate: number | null;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  buckets: { start: string; succeeded: number; failed: number; latencyP50Ms: number | null }[];
}

const STATS_FIELDS = `deliveries succeeded failed pending held attempts successRate latencyP50Ms latencyP95Ms lastSuccessAt lastFailureAt
  buckets(interval: $interval) { start succeeded failed latencyP50Ms }`;

let hooklane: TestHooklane;
let healthy: TestReceiver;
let broken: TestReceiver;
let a: { id: string; token: string };
let b: { id: string; token: string };
let okId: string;
let failingId: string;
let otherId: string;
let startedAt: number;

async function subscriptionStats(token: string, id: string, args: { since?: string; interval?: string } = {}): Promise<Stats | null> {
  const data = await gqlData<{ subscription: { stats: Stats } | null }>(
    hooklane,
    token,
    `query($id: ID!, $since: DateTime, $interval: String) { subscription(id: $id) { stats(since: $since) { ${STATS_FIELDS} } } }`,
    { id, ...args },
  );
  return data.subscription?.stats ?? null;
}

async function tenantStats(token: string, args: { since?: string; interval?: string } = {}): Promise<Stats> {
  const data = await gqlData<{ tenant: { stats: Stats } }>(
    hooklane,
    token,
    `query($since: DateTime, $interval: String) { tenant { stats(since: $since) { ${STATS_FIELDS} } } }`,
    args,
  );
  return data.tenant.stats;
}

const total = (stats: Stats, field: 'succeeded' | 'failed') => stats.buckets.reduce((sum, bucket) => sum + bucket[field], 0);

beforeAll(async () => {
  startedAt = Date.now();
  healthy = await TestReceiver.start();
  broken = await TestReceiver.start();
  broken.replyWith({ status: 500, body: 'down' });
  hooklane = await startTestHooklane();
  a = await hooklane.createTenant('Stats A');
  b = await hooklane.createTenant('Stats B');
  for (const tenant of [a, b]) await createEventType(hooklane, tenant.token, { name: 'stats.thing' });
  okId = (await createSubscription(hooklane, a.token, { url: healthy.url, eventTypes: ['stats.thing'] })).subscription.id;
  failingId = (await createSubscription(hooklane, a.token, { url: broken.url, eventTypes: ['stats.thing'] })).subscription.id;
  otherId = (await createSubscription(hooklane, b.token, { url: healthy.url, eventTypes: ['stats.thing'] })).subscription.id;

  const deliveries: [string, string][] = [];
  for (let i = 0; i < 4; i++) {
    const event = await publish(hooklane, a.token, { eventType: 'stats.thing', payload: { i } });
    deliveries.push(...event.deliveries.map((delivery): [string, string] => [a.token, delivery.id]));
  }
  for (let i = 0; i < 3; i++) {
    const event = await publish(hooklane, b.token, { eventType: 'stats.thing', payload: { i } });
    deliveries.push(...event.deliveries.map((delivery): [string, string] => [b.token, delivery.id]));
  }
  // 500, then the two retries of DELIVERY_RETRY_SCHEDULE=50ms,100ms: FAILED after 3 attempts.
  await Promise.all(deliveries.map(([token, id]) => waitForDelivery(hooklane, token, id)));
}, 60_000);

afterAll(async () => {
  await hooklane?.stop();
  await healthy?.close();
  await broken?.close();
});

describe('a subscription\'s stats', () => {
  it('count the deliveries that succeeded, with their response times and last success', async () => {
    const stats = (await subscriptionStats(a.token, okId))!;
    expect(stats).toMatchObject({ deliveries: 4, succeeded: 4, failed: 0, attempts: 4, pending: 0, held: 0, successRate: 1, lastFailureAt: null });
    expect(stats.latencyP50Ms).toEqual(expect.any(Number));
    expect(stats.latencyP95Ms!).toBeGreaterThanOrEqual(stats.latencyP50Ms!);
    const lastSuccess = Date.parse(stats.lastSuccessAt!);
    expect(lastSuccess).toBeGreaterThanOrEqual(startedAt - 60_000);
    expect(lastSuccess).toBeLessThanOrEqual(Date.now());
  });

  it('count the deliveries that failed after their retries, every attempt, and the last failure', async () => {
    const stats = (await subscriptionStats(a.token, failingId))!;
    expect(stats).toMatchObject({ deliveries: 4, succeeded: 0, failed: 4, attempts: 12, pending: 0, successRate: 0, lastSuccessAt: null });
    expect(broken.requests).toHaveLength(12);
    expect(Date.parse(stats.lastFailureAt!)).toBeGreaterThanOrEqual(startedAt - 60_000);
    // A 500 is an answer: its response time counts.
    expect(stats.latencyP50Ms).toEqual(expect.any(Number));
  });

  it('give the window as buckets that add up to it, 5 minutes wide over the default 24 hours', async () => {
    for (const id of [okId, failingId]) {
      const stats = (await subscriptionStats(a.token, id))!;
      expect(stats.buckets.length).toBeGreaterThanOrEqual(288);
      expect(stats.buckets.length).toBeLessThanOrEqual(289);
      expect(total(stats, 'succeeded')).toBe(stats.succeeded);
      expect(total(stats, 'failed')).toBe(stats.failed);
      const starts = stats.buckets.map((bucket) => Date.parse(bucket.start));
      for (const [i, start] of starts.entries()) {
        expect(start % 300_000).toBe(0);
        if (i > 0) expect(start - starts[i - 1]!).toBe(300_000);
      }
      expect(starts[0]!).toBeLessThanOrEqual(Date.now() - 24 * 3_600_000);
    }
    for (const [interval, count] of [['1m', 1440], ['1h', 24], ['1d', 1]] as const) {
      const stats = (await subscriptionStats(a.token, failingId, { interval }))!;
      expect(stats.buckets.length, interval).toBeGreaterThanOrEqual(count);
      expect(stats.buckets.length, interval).toBeLessThanOrEqual(count + 1);
      expect(total(stats, 'failed'), interval).toBe(4);
      expect(stats.buckets.filter((bucket) => bucket.latencyP50Ms !== null).length, interval).toBeGreaterThan(0);
    }
  });

  it('count only from `since`', async () => {
    const now = Date.now();
    const stats = (await subscriptionStats(a.token, okId, { since: new Date(now - 10 * 60_000).toISOString(), interval: '1m' }))!;
    expect(stats.succeeded).toBe(4);
    expect(stats.buckets.length).toBeGreaterThanOrEqual(11);
    expect(stats.buckets.length).toBeLessThanOrEqual(12);
    // The rows as they would be two hours from now: nothing in the last hour, all of it in the last three.
    await hooklane.sql`update delivery_stats set bucket_start = bucket_start - interval '2 hours' where tenant_id = ${a.id}`;
    try {
      const lastHour = (await subscriptionStats(a.token, okId, { since: new Date(now - 3_600_000).toISOString() }))!;
      expect(lastHour).toMatchObject({ deliveries: 0, succeeded: 0, attempts: 0, successRate: null, latencyP50Ms: null, lastSuccessAt: null });
      const lastThree = (await subscriptionStats(a.token, okId, { since: new Date(now - 3 * 3_600_000).toISOString(), interval: '1h' }))!;
      expect(lastThree).toMatchObject({ deliveries: 4, succeeded: 4 });
      const filled = lastThree.buckets.filter((bucket) => bucket.succeeded > 0);
      expect(filled).toHaveLength(1);
      expect(now - Date.parse(filled[0]!.start)).toBeGreaterThan(2 * 3_600_000 - 3_600_000);
    } finally {
      await hooklane.sql`update delivery_stats set bucket_start = bucket_start + interval '2 hours' where tenant_id = ${a.id}`;
    }
  });

  it('count PENDING and HELD deliveries as they are now', async () => {
    const hold = new Hold();
    const slow = await TestReceiver.start();
    slow.replyWith({ status: 200, heldUntil: hold.released });
    try {
      await createEventType(hooklane, a.token, { name: 'stats.later' });
      const waiting = (await createSubscription(hooklane, a.token, { url: slow.url, eventTypes: ['stats.later'] })).subscription.id;
      const paused = (await createSubscription(hooklane, a.token, { url: healthy.url, eventTypes: ['stats.later'] })).subscription.id;
      await updateSubscription(hooklane, a.token, { id: paused, enabled: false });
      const events = [];
      for (let i = 0; i < 2; i++) events.push(await publish(hooklane, a.token, { eventType: 'stats.later', payload: { i } }));
      await slow.waitForRequests(2);
      expect(await subscriptionStats(a.token, waiting)).toMatchObject({ pending: 2, held: 0, deliveries: 0 });
      expect(await subscriptionStats(a.token, paused)).toMatchObject({ pending: 0, held: 2, deliveries: 0 });
      expect(await tenantStats(a.token)).toMatchObject({ pending: 2, held: 2 });
      hold.release();
      const delivered = events.flatMap((event) => event.deliveries.filter((delivery) => delivery.subscription.id === waiting));
      await Promise.all(delivered.map((delivery) => waitForDelivery(hooklane, a.token, delivery.id, 'SUCCEEDED')));
      const after = await eventually(async () => {
        const stats = (await subscriptionStats(a.token, waiting))!;
        return stats.succeeded === 2 ? stats : undefined;
      });
      expect(after).toMatchObject({ pending: 0, deliveries: 2, attempts: 2 });
    } finally {
      hold.release();
      await slow.close();
    }
  });
});

describe('a tenant\'s stats', () => {
  it('add up its subscriptions, and never another tenant\'s', async () => {
    const ofA = await tenantStats(a.token, { interval: '1h' });
    // Every subscription's stats in one list (one query per part for all of them).
    const data = await gqlData<{ subscriptions: { edges: { node: { id: string; stats: Stats } }[] } }>(
      hooklane,
      a.token,
      `query($interval: String) { subscriptions(first: 10) { edges { node { id stats { ${STATS_FIELDS} } } } } }`,
      { interval: '1h' },
    );
    const each = data.subscriptions.edges.map((edge) => edge.node.stats);
    expect(each.length).toBeGreaterThanOrEqual(2);
    for (const field of ['deliveries', 'succeeded', 'failed', 'attempts', 'pending', 'held'] as const) {
      expect(ofA[field], field).toBe(each.reduce((sum, stats) => sum + stats[field], 0));
    }
    expect(ofA.failed).toBe(4);
    expect(ofA.successRate).toBe(ofA.succeeded / (ofA.succeeded + ofA.failed));
    expect(Date.parse(ofA.lastSuccessAt!)).toBe(Math.max(...each.map((stats) => Date.parse(stats.lastSuccessAt ?? '1970-01-01'))));
    expect(total(ofA, 'succeeded')).toBe(ofA.succeeded);
    expect(total(ofA, 'failed')).toBe(ofA.failed);

    const ofB = await tenantStats(b.token);
    expect(ofB).toMatchObject({ deliveries: 3, succeeded: 3, failed: 0, attempts: 3, successRate: 1, pending: 0, held: 0 });
    expect(await subscriptionStats(b.token, otherId)).toMatchObject({ deliveries: 3, succeeded: 3 });
    // Another tenant's subscription is not found, its stats with it.
    expect(await subscriptionStats(b.token, okId)).toBeNull();
    expect(await subscriptionStats(a.token, otherId)).toBeNull();
  });

  it('are an operator\'s to read for any tenant', async () => {
    const data = await gqlData<{ tenants: { edges: { node: { id: string; stats: { deliveries: number; failed: number } } }[] } }>(
      hooklane,
      hooklane.adminToken,
      '{ tenants(first: 10) { edges { node { id stats { deliveries failed } } } } }',
    );
    const byId = new Map(data.tenants.edges.map((edge) => [edge.node.id, edge.node.stats]));
    expect(byId.get(b.id)).toEqual({ deliveries: 3, failed: 0 });
    expect(byId.get(a.id)!.failed).toBe(4);
  });
});

describe('a list of subscriptions asking for their stats', () => {
  it('costs one query per part, whatever its length', async () => {
    const client = connectDatabase(hooklane.databaseUrl, { max: 2, role: APP_ROLE });
    try {
      const scope = new TenantScope(client.db, a.id);
      const calls = { totals: 0, buckets: 0, currentCounts: 0 };
      const stats = scope.stats as unknown as Record<keyof typeof calls, (...args: unknown[]) => Promise<unknown>>;
      for (const name of Object.keys(calls) as (keyof typeof calls)[]) {
        const read = stats[name].bind(scope.stats);
        stats[name] = (...args) => {
          calls[name]++;
          return read(...args);
        };
      }
      const loaders = createLoaders(scope);
      const until = loaders.statsUntil;
      const since = new Date(until.getTime() - 3_600_000);
      const requests = [okId, failingId, okId].map((subscriptionId) => ({ tenantId: a.id, subscriptionId, since, until }));
      const [ok, failing] = await Promise.all(requests.map((request) => loaders.statsTotals.load(request)));
      await Promise.all(requests.map((request) => loaders.statsBuckets.load({ ...request, intervalSeconds: 300 })));
      await Promise.all(requests.map((request) => loaders.currentCounts.load(request.subscriptionId)));
      expect(calls).toEqual({ totals: 1, buckets: 1, currentCounts: 1 });
      expect([ok!.succeeded, failing!.failed]).toEqual([4, 4]);
    } finally {
      await client.close();
    }
  });
});

describe('bad arguments', () => {
  const ask = (token: string, args: Record<string, string>) =>
    gqlErrorCode(hooklane, token, 'query($since: DateTime, $interval: String) { tenant { stats(since: $since) { deliveries buckets(interval: $interval) { start } } } }', args);

  it('are refused with BAD_USER_INPUT', async () => {
    const day = 24 * 3_600_000;
    expect(await ask(a.token, { since: new Date(Date.now() + 3_600_000).toISOString() })).toBe('BAD_USER_INPUT');
    expect(await ask(a.token, { since: new Date(Date.now() - 401 * day).toISOString() })).toBe('BAD_USER_INPUT');
    expect(await ask(a.token, { interval: '2m' })).toBe('BAD_USER_INPUT');
    // 1m over two days is 2,881 buckets.
    expect(await ask(a.token, { since: new Date(Date.now() - 2 * day).toISOString(), interval: '1m' })).toBe('BAD_USER_INPUT');
    const longest = await tenantStats(a.token, { since: new Date(Date.now() - 399 * day).toISOString() });
    expect(longest.buckets.length).toBeGreaterThanOrEqual(400);
    expect(longest.buckets.length).toBeLessThanOrEqual(401);
  });
});
