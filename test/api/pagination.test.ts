import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscription, gqlData, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { BUILT_IN_EVENT_TYPE_LIST } from '../../src/publish/built-in-event-types.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

// XConnection { edges { cursor node } pageInfo { hasNextPage endCursor } }, newest first.

const DEFAULT_PAGE_SIZE = 20;

interface Page {
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

let hooklane: TestHooklane;
let tenant: { id: string; token: string };
let other: { id: string; token: string };
/** Ids in creation order, oldest first. */
const subscriptionIds: string[] = [];
const eventIds: string[] = [];
const eventTypeIds: string[] = [];
// Never called: every subscription listens to a type nobody publishes.
const HOOK_URL = 'http://127.0.0.1:9/hooks';

async function page(list: string, token: string, args: { first?: number; after?: string | null }): Promise<Page> {
  const data = await gqlData<Record<string, Page>>(
    hooklane,
    token,
    `query($first: Int, $after: String) { ${list}(first: $first, after: $after) {
      edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
    args,
  );
  return data[list]!;
}

/** Follows endCursor until hasNextPage is false; returns every page. */
async function allPages(list: string, token: string, first: number | undefined): Promise<Page[]> {
  const pages: Page[] = [];
  let after: string | null = null;
  for (;;) {
    const current = await page(list, token, { first, after });
    pages.push(current);
    if (!current.pageInfo.hasNextPage) return pages;
    expect(current.pageInfo.endCursor).toBe(current.edges.at(-1)!.cursor);
    after = current.pageInfo.endCursor;
    if (pages.length > 50) throw new Error('pagination does not end');
  }
}

function checkPages(pages: Page[], expectedNewestFirst: string[], sizes: number[]) {
  expect(pages.map((p) => p.edges.length)).toEqual(sizes);
  expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual(sizes.map((_, i) => i < sizes.length - 1));
  const ids = pages.flatMap((p) => p.edges.map((edge) => edge.node.id));
  expect(ids).toEqual(expectedNewestFirst);
  expect(new Set(ids).size).toBe(ids.length);
  const cursors = pages.flatMap((p) => p.edges.map((edge) => edge.cursor));
  expect(new Set(cursors).size).toBe(cursors.length);
  for (const p of pages) expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)?.cursor ?? null);
}

describe('pagination', () => {
  beforeAll(async () => {
    hooklane = await startTestHooklane();
    tenant = await hooklane.createTenant('Many Things');
    other = await hooklane.createTenant('Interleaved');
    for (const owner of [tenant, other]) {
      eventTypeIds.push((await createEventType(hooklane, owner.token, { name: 'thing.happened' })).id);
      eventTypeIds.push((await createEventType(hooklane, owner.token, { name: 'never.published' })).id);
    }
    // Only ours: the other tenant's two are not in our list.
    eventTypeIds.splice(2, 2);
    // The other tenant's rows are interleaved in time with ours: they must never show up.
    for (let i = 0; i < 25; i++) {
      const { subscription } = await createSubscription(hooklane, tenant.token, {
        url: `${HOOK_URL}/${i}`,
        eventTypes: ['never.published'],
        description: `#${i}`,
      });
      subscriptionIds.push(subscription.id);
      if (i % 5 === 0) await createSubscription(hooklane, other.token, { url: `${HOOK_URL}/other`, eventTypes: ['never.published'] });
    }
    for (let i = 0; i < 25; i++) {
      eventIds.push((await publish(hooklane, tenant.token, { eventType: 'thing.happened', payload: { i } })).id);
      if (i % 4 === 0) await publish(hooklane, other.token, { eventType: 'thing.happened', payload: { other: i } });
      if (i < 10) eventTypeIds.push((await createEventType(hooklane, tenant.token, { name: `type.n${i}` })).id);
    }
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  it('pages 25 subscriptions by 10, newest first, with no duplicates or omissions', async () => {
    const pages = await allPages('subscriptions', tenant.token, 10);
    checkPages(pages, [...subscriptionIds].reverse(), [10, 10, 5]);
    expect(pages[2]!.pageInfo.endCursor).toBe(pages[2]!.edges[4]!.cursor);
    // After the last cursor there is nothing more.
    const past = await page('subscriptions', tenant.token, { first: 10, after: pages[2]!.pageInfo.endCursor });
    expect(past).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('pages 25 events by 10, newest first', async () => {
    checkPages(await allPages('events', tenant.token, 10), [...eventIds].reverse(), [10, 10, 5]);
    // (and none of the setup reached out: no subscription listens to thing.happened)
    const [row] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from deliveries`;
    expect(row!.count).toBe(0);
  });

  it('pages event types by 5, the built-in ones after the tenant\'s own', async () => {
    expect(eventTypeIds).toHaveLength(12);
    const builtIns = BUILT_IN_EVENT_TYPE_LIST.map((builtIn) => builtIn.id);
    checkPages(await allPages('eventTypes', tenant.token, 5), [...[...eventTypeIds].reverse(), ...builtIns], [5, 5, 5]);
    // A page that ends with the tenant's last one leads on to the built-in ones.
    const [firstTwelve] = await allPages('eventTypes', tenant.token, 12);
    expect(firstTwelve!.pageInfo.hasNextPage).toBe(true);
    const rest = await page('eventTypes', tenant.token, { first: 12, after: firstTwelve!.pageInfo.endCursor });
    expect(rest.edges.map((edge) => edge.node.id)).toEqual(builtIns);
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('uses the default page size when first is omitted', async () => {
    const first = await page('subscriptions', tenant.token, {});
    expect(first.edges).toHaveLength(DEFAULT_PAGE_SIZE);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await page('subscriptions', tenant.token, { after: first.pageInfo.endCursor });
    expect(rest.edges).toHaveLength(25 - DEFAULT_PAGE_SIZE);
    expect(rest.pageInfo.hasNextPage).toBe(false);
    checkPages([first, rest], [...subscriptionIds].reverse(), [DEFAULT_PAGE_SIZE, 25 - DEFAULT_PAGE_SIZE]);

    // Same through the query text with no arguments at all.
    const data = await gqlData(hooklane, tenant.token, '{ events { edges { node { id } } pageInfo { hasNextPage endCursor } } }');
    expect(data.events.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([...eventIds].reverse().slice(0, DEFAULT_PAGE_SIZE));
    expect(data.events.pageInfo.hasNextPage).toBe(true);
  });

  it('sets hasNextPage exactly at the boundary', async () => {
    const exact = await page('subscriptions', tenant.token, { first: 25 });
    expect(exact.edges).toHaveLength(25);
    expect(exact.pageInfo.hasNextPage).toBe(false);
    const oneShort = await page('subscriptions', tenant.token, { first: 24 });
    expect(oneShort.pageInfo.hasNextPage).toBe(true);
    const rest = await page('subscriptions', tenant.token, { first: 1, after: oneShort.pageInfo.endCursor });
    expect(rest.edges.map((edge) => edge.node.id)).toEqual([subscriptionIds[0]]);
    expect(rest.pageInfo).toEqual({ hasNextPage: false, endCursor: rest.edges[0]!.cursor });
  });

  it('keeps paging stable when new rows arrive between pages', async () => {
    const first = await page('events', tenant.token, { first: 10 });
    const newer = await publish(hooklane, tenant.token, { eventType: 'thing.happened', payload: { late: true } });
    const pages = [first, ...(await allPagesFrom('events', first.pageInfo.endCursor!))];
    checkPages(pages, [...eventIds].reverse(), [10, 10, 5]);
    const fresh = await page('events', tenant.token, { first: 1 });
    expect(fresh.edges[0]!.node.id).toBe(newer.id);
    eventIds.push(newer.id);
  });

  it('lists only the caller’s rows for the interleaved tenant too', async () => {
    const subscriptions = await allPages('subscriptions', other.token, 2);
    const ids = subscriptions.flatMap((p) => p.edges.map((edge) => edge.node.id));
    expect(ids).toHaveLength(5);
    const owned = await hooklane.sql<{ id: string }[]>`select id from subscriptions where tenant_id = ${other.id} order by id desc`;
    expect(ids).toEqual(owned.map((row) => row.id));
    for (const id of ids) expect(subscriptionIds).not.toContain(id);
  });

  it('pages tenants for an admin', async () => {
    const pages = await allPages('tenants', hooklane.adminToken, 1);
    checkPages(pages, [other.id, tenant.id], [1, 1]);
  });
});

async function allPagesFrom(list: string, after: string): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = after;
  while (cursor) {
    const current = await page(list, tenant.token, { first: 10, after: cursor });
    pages.push(current);
    cursor = current.pageInfo.hasNextPage ? current.pageInfo.endCursor : null;
  }
  return pages;
}

// Event.deliveries(first) and Delivery.attempts(first): oldest first, at most `first` of each
// parent (100 when omitted, at most 1,000), also when one query loads many parents at once.
describe('nested lists', () => {
  let nested: TestHooklane;
  let owner: { id: string; token: string };
  let receiver: TestReceiver;
  /** Two events, each delivered to three subscriptions: ids oldest first. */
  const eventsWithDeliveries: { eventId: string; deliveryIds: string[] }[] = [];

  beforeAll(async () => {
    nested = await startTestHooklane();
    owner = await nested.createTenant('Nested Lists');
    receiver = await TestReceiver.start();
    // Every attempt fails: each delivery makes 3 attempts (the first and 2 retries), then FAILED.
    receiver.replyWith({ status: 500, body: 'no' });
    await createEventType(nested, owner.token, { name: 'nested.thing' });
    for (let i = 0; i < 3; i++) await createSubscription(nested, owner.token, { url: receiver.url, eventTypes: ['nested.thing'] });
    for (let i = 0; i < 2; i++) {
      const event = await publish(nested, owner.token, { eventType: 'nested.thing', payload: { i } });
      eventsWithDeliveries.push({ eventId: event.id, deliveryIds: event.deliveries.map((delivery) => delivery.id) });
    }
    for (const { deliveryIds } of eventsWithDeliveries) {
      for (const id of deliveryIds) await waitForDelivery(nested, owner.token, id, 'FAILED');
    }
  });
  afterAll(async () => {
    await receiver?.close();
    await nested?.stop();
  });

  const attemptsOf = async (deliveryId: string) =>
    (await nested.sql<{ id: string; created_at: Date }[]>`select id, created_at from delivery_attempts where delivery_id = ${deliveryId} order by id`).map(
      (row) => ({ id: row.id, createdAt: row.created_at.toISOString() }),
    );
  const attemptIdsOf = async (deliveryId: string) => (await attemptsOf(deliveryId)).map((attempt) => attempt.id);

  it('gives each event of a list its own oldest `first` deliveries', async () => {
    const data = await gqlData(nested, owner.token, '{ events(first: 10) { edges { node { id deliveries(first: 2) { id } } } } }');
    const listed = new Map<string, string[]>(
      data.events.edges.map((edge: { node: { id: string; deliveries: { id: string }[] } }) => [
        edge.node.id,
        edge.node.deliveries.map((delivery) => delivery.id),
      ]),
    );
    // The tenant's built-in hooklane.* events are listed too; these two have three deliveries each.
    for (const { eventId, deliveryIds } of eventsWithDeliveries) {
      expect(deliveryIds).toHaveLength(3);
      expect(listed.get(eventId)).toEqual(deliveryIds.slice(0, 2));
    }
  });

  it('gives each delivery its own oldest `first` attempts, in one query with other sizes', async () => {
    const { eventId, deliveryIds } = eventsWithDeliveries[0]!;
    const data = await gqlData(
      nested,
      owner.token,
      `query($id: ID!) { event(id: $id) {
        deliveries { id attempts(first: 2) { id createdAt } }
        all: deliveries(first: 1) { attempts { id } }
      } }`,
      { id: eventId },
    );
    expect(data.event.deliveries.map((delivery: { id: string }) => delivery.id)).toEqual(deliveryIds);
    for (const delivery of data.event.deliveries) {
      const attempts = await attemptsOf(delivery.id);
      expect(attempts).toHaveLength(3);
      expect(delivery.attempts).toEqual(attempts.slice(0, 2));
    }
    expect(data.event.all).toHaveLength(1);
    expect(data.event.all[0].attempts.map((attempt: { id: string }) => attempt.id)).toEqual(await attemptIdsOf(deliveryIds[0]!));
  });

  it('refuses `first` outside 1 to 1,000 with BAD_USER_INPUT', async () => {
    const { eventId, deliveryIds } = eventsWithDeliveries[0]!;
    for (const first of [0, 1001]) {
      const deliveries = await nested.gql(owner.token, 'query($id: ID!, $n: Int) { event(id: $id) { deliveries(first: $n) { id } } }', {
        id: eventId,
        n: first,
      });
      expect(deliveries.errors?.[0]?.extensions?.code, JSON.stringify(deliveries)).toBe('BAD_USER_INPUT');
      expect(deliveries.errors?.[0]?.message).toBe('first must be between 1 and 1000');
      const attempts = await nested.gql(owner.token, 'query($id: ID!, $n: Int) { delivery(id: $id) { attempts(first: $n) { id } } }', {
        id: deliveryIds[0],
        n: first,
      });
      expect(attempts.errors?.[0]?.extensions?.code, JSON.stringify(attempts)).toBe('BAD_USER_INPUT');
      expect(attempts.errors?.[0]?.message).toBe('first must be between 1 and 1000');
    }
    const widest = await nested.gql(owner.token, 'query($id: ID!) { event(id: $id) { deliveries(first: 1000) { id } } }', { id: eventId });
    expect(widest.errors).toBeUndefined();
    expect(widest.data!.event.deliveries).toHaveLength(3);
  });
});
