import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ID_PREFIX, type IdKind } from '../../src/ids.js';
import { createEventType, createSubscriptionWith, gqlData, gqlErrorCode, GraphQLCallError, mutate, publishWith } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, tenantIdle, type TestHooklane } from '../support/hooklane.js';
import { receiverPool } from '../support/fixtures.js';

// events(filter), deliveries(filter), WebhookSubscription.deliveries and retryDeliveries, end to
// end against PostgreSQL, the worker and real HTTP receivers on 127.0.0.1.

interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}
interface DeliveryNode {
  id: string;
  status: string;
  subscriptionId: string;
  event: { id: string; eventType: string };
}

/** An id of `kind` made at `at` (its UUIDv7 milliseconds, then random digits). */
function idMadeAt(kind: IdKind, at: number): string {
  return `${ID_PREFIX[kind]}_${at.toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`;
}

describe('searching events and deliveries, and retrying them in bulk', () => {
  let hooklane: TestHooklane;
  const receivers = receiverPool();

  beforeAll(async () => {
    hooklane = await startTestHooklane();
  });
  afterAll(async () => {
    await receivers.closeAll();
    await hooklane?.stop();
  });

  const events = (token: string, filter: Record<string, unknown> | null, first = 50, after: string | null = null) =>
    gqlData<{ events: Page<{ id: string; eventType: string }> }>(
      hooklane,
      token,
      'query($filter: EventFilter, $first: Int, $after: String) { events(first: $first, after: $after, filter: $filter) { edges { cursor node { id eventType } } pageInfo { hasNextPage endCursor } } }',
      { filter, first, after },
    ).then((data) => data.events);

  const deliveries = (token: string, filter: Record<string, unknown> | null, first = 50, after: string | null = null) =>
    gqlData<{ deliveries: Page<DeliveryNode> }>(
      hooklane,
      token,
      'query($filter: DeliveryFilter, $first: Int, $after: String) { deliveries(first: $first, after: $after, filter: $filter) { edges { cursor node { id status subscriptionId event { id eventType } } } pageInfo { hasNextPage endCursor } } }',
      { filter, first, after },
    ).then((data) => data.deliveries);

  /** Every page of a search, `first` at a time: the ids in the order they came. */
  async function allPages<T extends { id: string }>(page: (after: string | null) => Promise<Page<T>>): Promise<string[]> {
    const ids: string[] = [];
    let after: string | null = null;
    for (;;) {
      const result: Page<T> = await page(after);
      ids.push(...result.edges.map((edge) => edge.node.id));
      if (!result.pageInfo.hasNextPage) return ids;
      after = result.pageInfo.endCursor;
    }
  }

  const newestFirst = (ids: string[]) => [...ids].sort().reverse();

  const retryDeliveries = (token: string, input: Record<string, unknown>) =>
    mutate<{ count: number }>(hooklane, token, 'retryDeliveries', input, 'count');

  const statusOf = async (token: string, id: string) =>
    (await gqlData<{ delivery: { status: string } }>(hooklane, token, 'query($id: ID!) { delivery(id: $id) { status } }', { id })).delivery.status;

  it('filters events and deliveries on the server and pages them with cursors across partitions', async () => {
    const tenant = await hooklane.createTenant();
    for (const name of ['order.created', 'order.paid', 'user.created']) await createEventType(hooklane, tenant.token, { name });
    const receiver = await receivers.start();
    const failing = await receivers.start();
    failing.replyWith({ status: 500, body: 'down' });
    const orders = (await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.*'] }, 'id')).subscription.id;
    const users = (await createSubscriptionWith(hooklane, tenant.token, { url: failing.url, eventTypes: ['user.created'] }, 'id')).subscription.id;

    // A year ago, in the partition that holds everything older than the first window: written
    // directly, as retention would have kept them.
    const yearAgo = Date.now() - 365 * 86_400_000;
    const old: { event: string; delivery: string }[] = [];
    for (let n = 0; n < 3; n++) {
      const at = yearAgo + n;
      const event = idMadeAt('event', at);
      const delivery = idMadeAt('delivery', at);
      const body = JSON.stringify({ type: 'order.created', timestamp: new Date(at).toISOString(), data: { n } });
      await hooklane.sql`insert into events (id, tenant_id, event_type, body, created_at) values (${event}, ${tenant.id}, 'order.created', ${body}, ${new Date(at)})`;
      await hooklane.sql`insert into deliveries (id, tenant_id, event_id, subscription_id, status, created_at)
        values (${delivery}, ${tenant.id}, ${event}, ${orders}, 'SUCCEEDED', ${new Date(at)})`;
      old.push({ event, delivery });
    }
    const partitions = await hooklane.sql<{ partition: string }[]>`
      select distinct tableoid::regclass::text as partition from events where tenant_id = ${tenant.id}`;

    const since = new Date();
    const published: Record<string, string[]> = { 'order.created': [], 'order.paid': [], 'user.created': [] };
    for (let n = 0; n < 4; n++) {
      for (const eventType of Object.keys(published)) {
        const event = await publishWith(hooklane, tenant.token, {
          eventType,
          payload: { n },
          idempotencyKey: `${eventType}-${n}`,
          orderingKey: n % 2 === 0 ? 'even' : null,
        });
        published[eventType]!.push(event.id);
      }
    }
    await tenantIdle(hooklane, tenant.id);
    const fresh = Object.values(published).flat();
    const freshPartitions = await hooklane.sql<{ partition: string }[]>`
      select distinct tableoid::regclass::text as partition from events where id in ${hooklane.sql(fresh)}`;
    // The old events and today's are in different partitions.
    expect(partitions.map((row) => row.partition)).toEqual(['events_before']);
    expect(freshPartitions.map((row) => row.partition)).not.toContain('events_before');

    // No filter: every event, newest first, two at a time across both partitions (and the
    // hooklane.* events that report the failing subscription).
    const operational = (await events(tenant.token, null)).edges.filter((edge) => edge.node.eventType.startsWith('hooklane.')).map((edge) => edge.node.id);
    const everything = newestFirst([...fresh, ...operational, ...old.map((row) => row.event)]);
    expect(await allPages((after) => events(tenant.token, null, 2, after))).toEqual(everything);
    expect(await allPages((after) => events(tenant.token, { eventTypes: ['order.created'] }, 2, after))).toEqual(
      newestFirst([...published['order.created']!, ...old.map((row) => row.event)]),
    );
    expect(await allPages((after) => events(tenant.token, { eventTypes: ['order.paid', 'user.created'] }, 3, after))).toEqual(
      newestFirst([...published['order.paid']!, ...published['user.created']!]),
    );
    // since/until: the old partition's events alone, or today's alone.
    expect(await allPages((after) => events(tenant.token, { until: new Date(yearAgo + 1).toISOString() }, 1, after))).toEqual([old[0]!.event]);
    expect(await allPages((after) => events(tenant.token, { since: since.toISOString() }, 5, after))).toEqual(newestFirst([...fresh, ...operational]));
    expect((await events(tenant.token, { idempotencyKey: 'order.paid-2' })).edges.map((edge) => edge.node.id)).toEqual([published['order.paid']![2]]);
    expect(await allPages((after) => events(tenant.token, { orderingKey: 'even' }, 2, after))).toEqual(
      newestFirst(Object.values(published).flatMap((ids) => [ids[0]!, ids[2]!])),
    );
    expect(await allPages((after) => events(tenant.token, { subscriptionId: orders }, 4, after))).toEqual(
      newestFirst([...published['order.created']!, ...published['order.paid']!, ...old.map((row) => row.event)]),
    );
    expect(await allPages((after) => events(tenant.token, { deliveryStatus: 'FAILED' }, 3, after))).toEqual(newestFirst(published['user.created']!));
    expect((await events(tenant.token, { subscriptionId: orders, deliveryStatus: 'FAILED' })).edges).toEqual([]);

    // Deliveries: by subscription, status, event type and window, across both partitions.
    const allDeliveries = await allPages((after) => deliveries(tenant.token, null, 3, after));
    expect(allDeliveries).toHaveLength(15);
    expect(allDeliveries).toEqual(newestFirst(allDeliveries));
    const ordersDeliveries = await allPages((after) => deliveries(tenant.token, { subscriptionId: orders }, 2, after));
    expect(ordersDeliveries).toHaveLength(11);
    expect(ordersDeliveries.slice(-3)).toEqual(newestFirst(old.map((row) => row.delivery)));
    const failed = (await deliveries(tenant.token, { status: 'FAILED' })).edges.map((edge) => edge.node);
    expect(failed.map((node) => [node.subscriptionId, node.event.eventType])).toEqual(Array(4).fill([users, 'user.created']));
    const paid = (await deliveries(tenant.token, { eventTypes: ['order.paid'], status: 'SUCCEEDED', since: since.toISOString() })).edges;
    expect(paid.map((edge) => edge.node.event.id)).toEqual(newestFirst(published['order.paid']!));
    expect((await deliveries(tenant.token, { subscriptionId: orders, until: new Date(yearAgo + 2).toISOString() })).edges.map((edge) => edge.node.id)).toEqual(
      [old[1]!.delivery, old[0]!.delivery],
    );
    // WebhookSubscription.deliveries, with and without a status.
    const viaSubscription = await gqlData<{ subscription: { all: Page<DeliveryNode>; failed: Page<DeliveryNode> } }>(
      hooklane,
      tenant.token,
      `query($id: ID!) { subscription(id: $id) { all: deliveries(first: 20) { edges { node { id } } pageInfo { hasNextPage endCursor } }
        failed: deliveries(status: FAILED) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`,
      { id: users },
    );
    expect(viaSubscription.subscription.all.edges.map((edge) => edge.node.id)).toEqual(failed.map((node) => node.id));
    expect(viaSubscription.subscription.failed.edges.map((edge) => edge.node.id)).toEqual(failed.map((node) => node.id));
  });

  it('keeps tenants apart and refuses bad filters', async () => {
    const owner = await hooklane.createTenant();
    await createEventType(hooklane, owner.token, { name: 'order.created' });
    const receiver = await receivers.start();
    const subscription = (await createSubscriptionWith(hooklane, owner.token, { url: receiver.url, eventTypes: ['order.created'] }, 'id')).subscription.id;
    const event = await publishWith(hooklane, owner.token, { eventType: 'order.created', payload: {}, idempotencyKey: 'mine' });
    await tenantIdle(hooklane, owner.id);

    const other = await hooklane.createTenant();
    // Another tenant's subscription and keys match nothing: empty, as if they did not exist.
    expect((await events(other.token, { subscriptionId: subscription })).edges).toEqual([]);
    expect((await events(other.token, { idempotencyKey: 'mine' })).edges).toEqual([]);
    expect((await deliveries(other.token, { subscriptionId: subscription })).edges).toEqual([]);
    expect(await retryDeliveries(other.token, { filter: { subscriptionId: subscription, status: 'SUCCEEDED' }, dryRun: true })).toEqual({ count: 0 });
    expect((await events(owner.token, { subscriptionId: subscription })).edges.map((edge) => edge.node.id)).toEqual([event.id]);

    const refused = async (query: string, variables: Record<string, unknown>) => gqlErrorCode(hooklane, owner.token, query, variables);
    const eventsQuery = 'query($filter: EventFilter, $first: Int) { events(first: $first, filter: $filter) { edges { cursor } } }';
    expect(await refused(eventsQuery, { filter: { eventTypes: [] } })).toBe('BAD_USER_INPUT');
    expect(await refused(eventsQuery, { filter: { eventTypes: Array.from({ length: 21 }, (_, n) => `t${n}`) } })).toBe('BAD_USER_INPUT');
    expect(await refused(eventsQuery, { filter: { since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' } })).toBe('BAD_USER_INPUT');
    expect(await refused(eventsQuery, { filter: { idempotencyKey: 'k'.repeat(256) } })).toBe('BAD_USER_INPUT');
    expect(await refused(eventsQuery, { first: 100_000 })).toBe('BAD_USER_INPUT');
    const deliveriesQuery = 'query($filter: DeliveryFilter) { deliveries(filter: $filter) { edges { cursor } } }';
    expect(await refused(deliveriesQuery, { filter: { eventTypes: [] } })).toBe('BAD_USER_INPUT');
    await expect(retryDeliveries(owner.token, { filter: { status: 'HELD' } })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('counts with dryRun and writes nothing; re-sends FAILED deliveries in the background once the receiver answers 200', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'order.created' });
    await createEventType(hooklane, tenant.token, { name: 'order.paid' });
    const receiver = await receivers.start();
    receiver.replyWith({ status: 503, body: 'down' });
    const subscription = (await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.*'] }, 'id')).subscription.id;
    const ids: Record<string, string[]> = { 'order.created': [], 'order.paid': [] };
    for (let n = 0; n < 3; n++) {
      for (const eventType of Object.keys(ids)) {
        const event = await publishWith(hooklane, tenant.token, { eventType, payload: { n } });
        ids[eventType]!.push(event.deliveries[0]!.id);
      }
    }
    await tenantIdle(hooklane, tenant.id);
    for (const id of Object.values(ids).flat()) expect(await statusOf(tenant.token, id)).toBe('FAILED');
    const requestsBefore = receiver.requests.length;
    receiver.replyWith({ status: 200, body: 'fixed' });

    const writes = async () => {
      const [row] = await hooklane.sql<{ jobs: number; audit: number; pending: number }[]>`
        select (select count(*)::int from graphile_worker._private_jobs where payload->>'tenantId' = ${tenant.id}) as jobs,
          (select count(*)::int from audit_log where tenant_id = ${tenant.id} and action = 'retryDeliveries') as audit,
          (select count(*)::int from deliveries where tenant_id = ${tenant.id} and status <> 'FAILED') as pending`;
      return row!;
    };
    const before = await writes();
    expect(await retryDeliveries(tenant.token, { filter: { subscriptionId: subscription, eventTypes: ['order.paid'] }, dryRun: true })).toEqual({ count: 3 });
    expect(await retryDeliveries(tenant.token, { filter: {}, dryRun: true })).toEqual({ count: 6 });
    expect(await retryDeliveries(tenant.token, { filter: { status: 'SUCCEEDED' }, dryRun: true })).toEqual({ count: 0 });
    expect(await writes()).toEqual(before);
    expect(receiver.requests).toHaveLength(requestsBefore);

    expect(await retryDeliveries(tenant.token, { filter: { subscriptionId: subscription, eventTypes: ['order.paid'] } })).toEqual({ count: 3 });
    for (const id of ids['order.paid']!) await eventually(async () => ((await statusOf(tenant.token, id)) === 'SUCCEEDED' ? true : undefined));
    await tenantIdle(hooklane, tenant.id);
    expect(receiver.requests).toHaveLength(requestsBefore + 3);
    for (const id of ids['order.created']!) expect(await statusOf(tenant.token, id)).toBe('FAILED');
    const [entry] = await hooklane.sql<{ target_id: string; details: { filter: { eventTypes: string[] } } }[]>`
      select target_id, details from audit_log where tenant_id = ${tenant.id} and action = 'retryDeliveries'`;
    expect(entry).toMatchObject({ target_id: subscription, details: { filter: { eventTypes: ['order.paid'] } } });
    // The retried ones are no longer FAILED: a second run finds only the others.
    expect(await retryDeliveries(tenant.token, { filter: {}, dryRun: true })).toEqual({ count: 3 });
  });

  it('defers what the publish rate does not cover yet, and re-sends all of it in the end', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'order.created' });
    const receiver = await receivers.start();
    receiver.replyWith({ status: 500, body: 'down' });
    await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] }, 'id');
    const deliveryIds: string[] = [];
    for (let n = 0; n < 5; n++) {
      const event = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { n } });
      deliveryIds.push(event.deliveries[0]!.id);
    }
    await tenantIdle(hooklane, tenant.id);
    receiver.replyWith({ status: 200, body: 'fixed' });
    await mutate(hooklane, hooklane.adminToken, 'updateTenantQuotas', { tenantId: tenant.id, publishRate: 2, publishBurst: 2 }, 'tenant { id }');

    // The bucket may be empty after the publishes: the call is refused (nothing started) until a token is back.
    const started = await eventually(async () => {
      try {
        return await retryDeliveries(tenant.token, { filter: {} });
      } catch (error) {
        if (error instanceof GraphQLCallError && error.code === 'QUOTA_EXCEEDED') return undefined;
        throw error;
      }
    });
    expect(started).toEqual({ count: 5 });
    // At most the burst goes at once: the job waits for the rest of its tokens, it does not drop them.
    await eventually(async () => {
      const [row] = await hooklane.sql<{ waiting: number }[]>`
        select count(*)::int as waiting from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
        where t.identifier = 'retry_deliveries' and j.payload->>'tenantId' = ${tenant.id} and (j.payload->>'remaining')::int < 5 and j.run_at > now()`;
      return row!.waiting > 0 ? true : undefined;
    });
    for (const id of deliveryIds) await eventually(async () => ((await statusOf(tenant.token, id)) === 'SUCCEEDED' ? true : undefined), 15_000);
    await tenantIdle(hooklane, tenant.id);
    expect(receiver.requests.filter((request) => request.rawBody.length > 0)).toHaveLength(5 * 3 + 5);
  });
});
