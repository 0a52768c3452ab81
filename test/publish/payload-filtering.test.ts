import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscriptionWith, gqlData, mutate, publishBatch, publishWith } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type GraphQLResponse, type TestHooklane } from '../support/hooklane.js';
import { FlowReceiver } from '../support/flow-receiver.js';

// Payload filters end to end: which events reach a filtered subscription (and that the others
// leave no delivery behind), setting and removing a filter, the checks on it, previews.
describe('payload filters', () => {
  let hooklane: TestHooklane;
  const receivers: FlowReceiver[] = [];

  const newReceiver = async () => {
    const receiver = await FlowReceiver.start();
    receivers.push(receiver);
    return receiver;
  };

  const invoiceSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      amount: { type: 'integer' },
      currency: { type: 'string' },
      customer: { type: 'object', properties: { country: { type: 'string' } } },
    },
  };

  const newTenant = async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'invoice.paid', schema: invoiceSchema });
    await createEventType(hooklane, tenant.token, { name: 'invoice.voided' });
    await createEventType(hooklane, tenant.token, { name: 'order.created' });
    return tenant;
  };

  const subscribe = async (token: string, input: Record<string, unknown>) =>
    (await createSubscriptionWith(hooklane, token, input, 'id eventTypes filter payloadMode')).subscription;

  const deliveriesOf = async (subscriptionId: string) =>
    (await hooklane.sql<{ event_id: string }[]>`select event_id from deliveries where subscription_id = ${subscriptionId} order by event_id`).map(
      (row) => row.event_id,
    );

  const waitSucceeded = (subscriptionId: string, count: number) =>
    eventually(async () => {
      const [row] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from deliveries where subscription_id = ${subscriptionId} and status = 'SUCCEEDED'`;
      return row!.count === count ? true : undefined;
    }, 10_000, `${count} SUCCEEDED deliveries`);

  const updateQuery = 'mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { id filter eventTypes } } }';
  const createQuery = 'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }';
  const previewQuery = 'mutation($input: PreviewSubscriptionFilterInput!) { previewSubscriptionFilter(input: $input) { examined matched } }';

  /** The one error of a refused call: BAD_USER_INPUT on `field`. */
  const badInput = (response: GraphQLResponse, field: string) => {
    expect(response.errors, JSON.stringify(response)).toHaveLength(1);
    const [error] = response.errors!;
    expect(error!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error!.extensions?.field).toBe(field);
    return error!.message;
  };

  const tenantRows = async (tenantId: string) => ({
    subscriptions: await hooklane.sql`select * from subscriptions where tenant_id = ${tenantId} order by id`,
    events: await hooklane.sql`select id from events where tenant_id = ${tenantId} order by id`,
    deliveries: await hooklane.sql`select id from deliveries where tenant_id = ${tenantId} order by id`,
    version: await hooklane.sql`select config_version from tenants where id = ${tenantId}`,
  });

  beforeAll(async () => {
    hooklane = await startTestHooklane({ DELIVERY_TIMEOUT: '5s' });
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  it('a filtered subscription gets only the events its filter matches, and no delivery of the others', async () => {
    const tenant = await newTenant();
    const [bigReceiver, thinReceiver, allReceiver] = await Promise.all([newReceiver(), newReceiver(), newReceiver()]);
    const filter = { 'data.amount': { $gte: 1000 }, 'data.currency': { $in: ['EUR', 'USD'] } };
    const big = await subscribe(tenant.token, { url: bigReceiver.url, eventTypes: ['invoice.paid'], filter });
    expect(big.filter).toEqual(filter);
    // THIN sends only the id, but the filter looks at the whole event.
    const thin = await subscribe(tenant.token, {
      url: thinReceiver.url,
      eventTypes: ['invoice.*'],
      payloadMode: 'THIN',
      filter: { $or: [{ type: 'invoice.voided' }, { 'data.customer.country': 'DE' }] },
    });
    const all = await subscribe(tenant.token, { url: allReceiver.url, eventTypes: ['invoice.*'] });
    expect(all.filter).toBeNull();

    const payloads = [
      { amount: 1500, currency: 'EUR', customer: { country: 'DE' } },
      { amount: 999, currency: 'EUR', customer: { country: 'DE' } },
      { amount: 5000, currency: 'GBP' },
      { amount: 1000, currency: 'USD', customer: { country: 'FR' } },
    ];
    const single = await publishWith(hooklane, tenant.token, { eventType: 'invoice.paid', payload: payloads[0] });
    const batch = await publishBatch(hooklane, tenant.token, payloads.slice(1).map((payload) => ({ eventType: 'invoice.paid', payload })), 'id');
    expect(batch.errors).toBeUndefined();
    const voided = await publishWith(hooklane, tenant.token, { eventType: 'invoice.voided', payload: { amount: 'n/a' } });
    const [, small, pounds, dollars] = [single.id, ...batch.data!.publishEvents.events.map((event) => event.id)];

    expect(single.deliveries.map((delivery) => delivery.subscription.id).sort()).toEqual([big.id, thin.id, all.id].sort());
    expect(voided.deliveries.map((delivery) => delivery.subscription.id).sort()).toEqual([thin.id, all.id].sort());
    expect(await deliveriesOf(big.id)).toEqual([single.id, dollars].sort());
    expect(await deliveriesOf(thin.id)).toEqual([single.id, small, voided.id].sort());
    expect(await deliveriesOf(all.id)).toEqual([single.id, small, pounds, dollars, voided.id].sort());

    await Promise.all([waitSucceeded(big.id, 2), waitSucceeded(thin.id, 3), waitSucceeded(all.id, 5)]);
    expect(bigReceiver.requests.map((request) => request.webhookId).sort()).toEqual([single.id, dollars].sort());
    expect(bigReceiver.requests.find((request) => request.webhookId === dollars)!.body.data).toEqual(payloads[3]);
    expect(thinReceiver.requests.map((request) => request.body.data)).toEqual(
      expect.arrayContaining([{ id: single.id }, { id: small }, { id: voided.id }]),
    );
    expect(thinReceiver.requests).toHaveLength(3);
  });

  it('a changed filter applies to the very next publish; null removes it; the publish context moves', async () => {
    const tenant = await newTenant();
    const receiver = await newReceiver();
    const sub = await subscribe(tenant.token, { url: receiver.url, eventTypes: ['order.created'], filter: { 'data.region': 'eu' } });
    const publishRegion = async (region: string) =>
      (await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { region } })).deliveries.length;

    // Publishing twice reuses the first read; the update must still reach the next publish.
    expect([await publishRegion('eu'), await publishRegion('us')]).toEqual([1, 0]);
    const [before] = await hooklane.sql<{ config_version: string }[]>`select config_version from tenants where id = ${tenant.id}`;
    const updated = await gqlData(hooklane, tenant.token, updateQuery, { input: { id: sub.id, filter: { 'data.region': { $in: ['us', 'apac'] } } } });
    expect(updated.updateSubscription.subscription.filter).toEqual({ 'data.region': { $in: ['us', 'apac'] } });
    const [after] = await hooklane.sql<{ config_version: string }[]>`select config_version from tenants where id = ${tenant.id}`;
    expect(Number(after!.config_version)).toBeGreaterThan(Number(before!.config_version));
    expect([await publishRegion('eu'), await publishRegion('us'), await publishRegion('apac')]).toEqual([0, 1, 1]);

    // An update that leaves the filter out keeps it.
    const described = await gqlData(hooklane, tenant.token, updateQuery, { input: { id: sub.id, description: 'orders' } });
    expect(described.updateSubscription.subscription.filter).toEqual({ 'data.region': { $in: ['us', 'apac'] } });
    expect(await publishRegion('eu')).toBe(0);

    const removed = await gqlData(hooklane, tenant.token, updateQuery, { input: { id: sub.id, filter: null } });
    expect(removed.updateSubscription.subscription.filter).toBeNull();
    const [row] = await hooklane.sql`select filter from subscriptions where id = ${sub.id}`;
    expect(row!.filter).toBeNull();
    expect([await publishRegion('eu'), await publishRegion('mars')]).toEqual([1, 1]);
    await waitSucceeded(sub.id, 5);
    expect(receiver.requests.map((request) => request.body.data.region).sort()).toEqual(['apac', 'eu', 'eu', 'mars', 'us']);
  });

  it('refuses a bad filter with BAD_USER_INPUT naming the path, and writes nothing', async () => {
    const tenant = await newTenant();
    const receiver = await newReceiver();
    const create = (filter: unknown, eventTypes = ['invoice.paid']) =>
      hooklane.gql(tenant.token, createQuery, { input: { url: receiver.url, eventTypes, filter } });
    const untouched = await tenantRows(tenant.id);

    expect(badInput(await create({ 'data.amount': { $regex: '^1' } }), 'filter')).toMatch(/data\.amount: unknown operator \$regex/);
    expect(badInput(await create({ 'data.amount': { $gt: 'ten' } }), 'filter')).toMatch(/data\.amount: \$gt compares with string/);
    expect(badInput(await create({ 'data.amout': { $gt: 10 } }), 'filter')).toMatch(/data\.amout: no such value can exist in events of invoice\.paid/);
    expect(badInput(await create({ amount: 10 }), 'filter')).toMatch(/amount: a path starts with type, timestamp or data/);
    expect(badInput(await create('data.amount > 10'), 'filter')).toMatch(/a filter is an object/);
    const huge = await create({ 'data.currency': { $in: Array.from({ length: 100 }, (_, index) => `${index}`.padStart(90, 'x')) } });
    expect(badInput(huge, 'filter')).toMatch(/8192 bytes/);
    const refusal = (await create({ 'data.customer.country': { $gt: 5 } })).errors![0]!;
    expect(refusal.extensions?.details).toEqual({ path: 'data.customer.country' });
    expect(await tenantRows(tenant.id)).toEqual(untouched);

    // A path only one of the subscribed types allows, or under a type without schema, is fine.
    const wide = await subscribe(tenant.token, { url: receiver.url, eventTypes: ['invoice.*'], filter: { 'data.reason': 'fraud' } });
    expect(wide.filter).toEqual({ 'data.reason': 'fraud' });

    // On update: the filter is refused and the row stays as it was.
    const sub = await subscribe(tenant.token, { url: receiver.url, eventTypes: ['invoice.paid'], filter: { 'data.amount': { $gt: 5 } } });
    const refundSchema = { type: 'object', additionalProperties: false, properties: { amount: { type: 'string' } } };
    await createEventType(hooklane, tenant.token, { name: 'refund.issued', schema: refundSchema });
    const rows = await tenantRows(tenant.id);
    const update = (input: Record<string, unknown>) => hooklane.gql(tenant.token, updateQuery, { input: { id: sub.id, ...input } });
    expect(badInput(await update({ filter: { $or: [{ 'data.nope': 1 }] } }), 'filter')).toMatch(/data\.nope: no such value/);
    expect(badInput(await update({ filter: { 'data.amount': { $gt: 1 } }, eventTypes: ['invoice.paid', 'invoice.nope'] }), 'eventTypes')).toMatch(/unknown event type/);
    // Kept filter, new event types: checked again against them.
    expect(badInput(await update({ eventTypes: ['refund.issued'] }), 'filter')).toMatch(/data\.amount: \$gt compares with number, but data\.amount is always string in events of refund\.issued/);
    expect(await tenantRows(tenant.id)).toEqual(rows);
    const moved = await gqlData(hooklane, tenant.token, updateQuery, { input: { id: sub.id, eventTypes: ['refund.issued'], filter: { 'data.amount': '5.00' } } });
    expect(moved.updateSubscription.subscription).toEqual({ id: sub.id, eventTypes: ['refund.issued'], filter: { 'data.amount': '5.00' } });
  });

  it('replayEvent to every matching subscription applies filters; to listed subscriptions it does not', async () => {
    const tenant = await newTenant();
    const [matching, other] = await Promise.all([newReceiver(), newReceiver()]);
    const yes = await subscribe(tenant.token, { url: matching.url, eventTypes: ['order.created'], filter: { 'data.n': 1 } });
    const no = await subscribe(tenant.token, { url: other.url, eventTypes: ['order.created'], filter: { 'data.n': 2 } });
    const event = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
    expect(event.deliveries.map((delivery) => delivery.subscription.id)).toEqual([yes.id]);

    const toAll = await mutate(hooklane, tenant.token, 'replayEvent', { id: event.id }, 'deliveries { id subscription { id } }');
    expect(toAll.deliveries.map((delivery: { subscription: { id: string } }) => delivery.subscription.id)).toEqual([yes.id]);
    const listed = await mutate(hooklane, tenant.token, 'replayEvent', { id: event.id, subscriptionIds: [no.id] }, 'deliveries { id subscription { id } }');
    expect(listed.deliveries.map((delivery: { subscription: { id: string } }) => delivery.subscription.id)).toEqual([no.id]);
    await Promise.all([waitSucceeded(yes.id, 2), waitSucceeded(no.id, 1)]);
    expect(other.requests.map((request) => request.webhookId)).toEqual([event.id]);
  });

  it('filters built-in hooklane.* events too', async () => {
    const tenant = await newTenant();
    const [operator, broken] = await Promise.all([newReceiver(), newReceiver()]);
    broken.respond(() => ({ status: 500, body: 'broken' }));
    const watcher = await subscribe(tenant.token, {
      url: operator.url,
      eventTypes: ['hooklane.delivery.failed'],
      filter: { 'data.eventType': 'order.created' },
    });
    await subscribe(tenant.token, { url: broken.url, eventTypes: ['order.created', 'invoice.voided'] });
    await publishWith(hooklane, tenant.token, { eventType: 'invoice.voided', payload: {} });
    const doomed = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: {} });
    // Both deliveries spend the schedule (50ms, 100ms): two hooklane.delivery.failed events, one delivered.
    await eventually(async () => {
      const [row] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from events where tenant_id = ${tenant.id} and event_type = 'hooklane.delivery.failed'`;
      return row!.count === 2 ? true : undefined;
    }, 10_000, 'two hooklane.delivery.failed events');
    await waitSucceeded(watcher.id, 1);
    expect(operator.requests.map((request) => request.body.data.eventId)).toEqual([doomed.id]);
    expect(await deliveriesOf(watcher.id)).toHaveLength(1);
  });

  describe('previewSubscriptionFilter', () => {
    it('counts what a filter matches among the last events of the types, reading only the tenant\'s own', async () => {
      const tenant = await newTenant();
      const other = await newTenant();
      const amounts = [100, 1500, 2000, 50, 3000, 999, 1000];
      await publishBatch(hooklane, tenant.token, amounts.map((amount) => ({ eventType: 'invoice.paid', payload: { amount, currency: 'EUR' } })));
      await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { amount: 5000 } });
      // The other tenant's events of the same type, all matching, newer than the tenant's: never counted.
      await publishBatch(hooklane, other.token, Array.from({ length: 5 }, () => ({ eventType: 'invoice.paid', payload: { amount: 9999 } })));

      const preview = async (input: Record<string, unknown>, token = tenant.token) =>
        (await gqlData(hooklane, token, previewQuery, { input })).previewSubscriptionFilter;
      const big = { 'data.amount': { $gte: 1000 } };
      const before = await tenantRows(tenant.id);
      expect(await preview({ filter: big, eventTypes: ['invoice.paid'] })).toEqual({ examined: 7, matched: 4 });
      // The last 3: 3000, 999, 1000.
      expect(await preview({ filter: big, eventTypes: ['invoice.paid'], last: 3 })).toEqual({ examined: 3, matched: 2 });
      expect(await preview({ filter: big, eventTypes: ['invoice.*', 'order.created'] })).toEqual({ examined: 8, matched: 5 });
      expect(await preview({ filter: {}, eventTypes: ['*'], last: 1000 })).toEqual({ examined: 8, matched: 8 });
      expect(await preview({ filter: big, eventTypes: ['invoice.voided'] })).toEqual({ examined: 0, matched: 0 });
      expect(await preview({ filter: big, eventTypes: ['invoice.paid'] }, other.token)).toEqual({ examined: 5, matched: 5 });
      expect(await tenantRows(tenant.id)).toEqual(before);
    });

    it('pages through up to 1,000 events', async () => {
      const tenant = await newTenant();
      const batch = (from: number) =>
        publishBatch(hooklane, tenant.token, Array.from({ length: 1000 }, (_, index) => ({ eventType: 'order.created', payload: { n: from + index } })), 'id');
      expect((await batch(0)).errors).toBeUndefined();
      expect((await batch(1000)).errors).toBeUndefined();
      const even = { 'data.n': { $in: [0, 1, 1000, 1001, 1998, 1999] } };
      const result = await gqlData(hooklane, tenant.token, previewQuery, { input: { filter: even, eventTypes: ['order.created'], last: 1000 } });
      expect(result.previewSubscriptionFilter).toEqual({ examined: 1000, matched: 4 });
      const some = await gqlData(hooklane, tenant.token, previewQuery, { input: { filter: even, eventTypes: ['order.created'], last: 250 } });
      expect(some.previewSubscriptionFilter).toEqual({ examined: 250, matched: 2 });
    });

    it('checks its input like a subscription, and needs events:read', async () => {
      const tenant = await newTenant();
      const preview = (input: Record<string, unknown>, token = tenant.token) => hooklane.gql(token, previewQuery, { input });
      expect(badInput(await preview({ filter: { 'data.x': { $size: 1 } }, eventTypes: ['order.created'] }), 'filter')).toMatch(/data\.x: unknown operator \$size/);
      expect(badInput(await preview({ filter: { 'data.other': 1 }, eventTypes: ['invoice.paid'] }), 'filter')).toMatch(/data\.other: no such value/);
      expect(badInput(await preview({ filter: {}, eventTypes: ['invoice.nope'] }), 'eventTypes')).toMatch(/unknown event type/);
      expect(badInput(await preview({ filter: {}, eventTypes: ['inv*'] }), 'eventTypes')).toMatch(/not an event type name/);
      expect(badInput(await preview({ filter: {}, eventTypes: ['order.created'], last: 0 }), 'last')).toMatch(/1 to 1000/);
      expect(badInput(await preview({ filter: {}, eventTypes: ['order.created'], last: 1001 }), 'last')).toMatch(/1 to 1000/);

      const writer = await hooklane.tenantToken(tenant.id, { scope: 'subscriptions:read subscriptions:write' });
      const refused = await preview({ filter: {}, eventTypes: ['order.created'] }, writer);
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const reader = await hooklane.tenantToken(tenant.id, { scope: 'events:read' });
      expect((await preview({ filter: {}, eventTypes: ['order.created', 'hooklane.*'] }, reader)).data?.previewSubscriptionFilter).toEqual({
        examined: 0,
        matched: 0,
      });
    });
  });
});
