import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createEventType,
  createSubscriptionWith,
  getEvent,
  gqlData,
  publishBatch,
  publishWith,
  webhookHeadersOf,
} from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, tenantIdle, type TestHooklane } from '../support/hooklane.js';
import { FlowReceiver } from '../support/flow-receiver.js';

// Which subscriptions an event reaches (wildcards, channels), what the body carries (FULL / THIN),
// and batch publishing, end to end against real receivers and the real database.
describe('delivery engine: filters, payload modes and batches', () => {
  let hooklane: TestHooklane;
  const receivers: FlowReceiver[] = [];

  const newReceiver = async () => {
    const receiver = await FlowReceiver.start();
    receivers.push(receiver);
    return receiver;
  };

  const newTenant = async (...eventTypes: string[]) => {
    const tenant = await hooklane.createTenant();
    for (const name of eventTypes) await createEventType(hooklane, tenant.token, { name });
    return tenant;
  };

  const subscribe = async (token: string, input: Record<string, unknown>) => (await createSubscriptionWith(hooklane, token, input)).subscription;

  /** What a tenant has written, straight from the database: events, deliveries, and jobs naming it. */
  const tenantCounts = async (tenantId: string) => {
    const [row] = await hooklane.sql<{ events: number; deliveries: number; jobs: number; subscriptions: number }[]>`
      select
        (select count(*)::int from events where tenant_id = ${tenantId}) as events,
        (select count(*)::int from deliveries where tenant_id = ${tenantId}) as deliveries,
        (select count(*)::int from graphile_worker._private_jobs where payload->>'tenantId' = ${tenantId}) as jobs,
        (select count(*)::int from subscriptions where tenant_id = ${tenantId}) as subscriptions`;
    return row!;
  };

  const succeededCount = async (subscriptionId: string) => {
    const [row] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from deliveries where subscription_id = ${subscriptionId} and status = 'SUCCEEDED'`;
    return row!.count;
  };

  const waitSucceeded = (subscriptionId: string, count: number, timeoutMs = 10_000) =>
    eventually(async () => ((await succeededCount(subscriptionId)) === count ? true : undefined), timeoutMs, `${count} SUCCEEDED`);

  /** Event types of the bodies a receiver got, sorted. */
  const typesReceived = (receiver: FlowReceiver) => receiver.requests.map((request) => request.body.type as string).sort();

  const subscribedIds = (event: { deliveries: { subscription: { id: string } }[] }) =>
    event.deliveries.map((delivery) => delivery.subscription.id).sort();

  beforeAll(async () => {
    // A generous timeout: no attempt here should time out, even on a busy machine.
    hooklane = await startTestHooklane({ DELIVERY_TIMEOUT: '5s' });
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  describe('wildcards', () => {
    it('invoice.* receives invoice.paid and invoice.paid.late but not order.created; * receives all three', async () => {
      const tenant = await newTenant('invoice.paid', 'invoice.paid.late', 'order.created');
      const [invoices, everything] = await Promise.all([newReceiver(), newReceiver()]);
      const invoiceSub = await subscribe(tenant.token, { url: invoices.url, eventTypes: ['invoice.*'] });
      const allSub = await subscribe(tenant.token, { url: everything.url, eventTypes: ['*'] });
      expect(invoiceSub.eventTypes).toEqual(['invoice.*']);
      expect(allSub.eventTypes).toEqual(['*']);

      const paid = await publishWith(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { n: 1 } });
      const late = await publishWith(hooklane, tenant.token, { eventType: 'invoice.paid.late', payload: { n: 2 } });
      const order = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 3 } });
      expect(subscribedIds(paid)).toEqual([invoiceSub.id, allSub.id].sort());
      expect(subscribedIds(late)).toEqual([invoiceSub.id, allSub.id].sort());
      expect(subscribedIds(order)).toEqual([allSub.id]);

      await waitSucceeded(invoiceSub.id, 2);
      await waitSucceeded(allSub.id, 3);
      expect(typesReceived(invoices)).toEqual(['invoice.paid', 'invoice.paid.late']);
      expect(typesReceived(everything)).toEqual(['invoice.paid', 'invoice.paid.late', 'order.created']);
      expect(invoices.requests.map((request) => request.webhookId).sort()).toEqual([paid.id, late.id].sort());
    });

    it('* does not receive built-in hooklane.* events, which reach only subscriptions that name them', async () => {
      const tenant = await newTenant('alpha', 'beta.one');
      const [everything, operator, broken] = await Promise.all([newReceiver(), newReceiver(), newReceiver()]);
      broken.respond(() => ({ status: 500, body: 'broken' }));
      const allSub = await subscribe(tenant.token, { url: everything.url, eventTypes: ['*'] });
      const builtInSub = await subscribe(tenant.token, { url: operator.url, eventTypes: ['hooklane.delivery.failed'] });
      await subscribe(tenant.token, { url: broken.url, eventTypes: ['beta.one'] });

      await publishWith(hooklane, tenant.token, { eventType: 'alpha', payload: {} });
      const doomed = await publishWith(hooklane, tenant.token, { eventType: 'beta.one', payload: {} });
      // The broken receiver spends the schedule (50ms, 100ms): Hooklane publishes hooklane.delivery.failed.
      await waitSucceeded(builtInSub.id, 1);
      const [failure] = operator.requests;
      expect(failure!.body.type).toBe('hooklane.delivery.failed');
      expect(failure!.body.data.eventId).toBe(doomed.id);
      await waitSucceeded(allSub.id, 2);
      await tenantIdle(hooklane, tenant.id);
      expect(typesReceived(everything)).toEqual(['alpha', 'beta.one']);
      const [row] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from deliveries where subscription_id = ${allSub.id}`;
      expect(row!.count).toBe(2);
    });

    it('refuses malformed patterns with BAD_USER_INPUT on eventTypes and writes nothing', async () => {
      const tenant = await newTenant('invoice.paid');
      const receiver = await newReceiver();
      const before = await tenantCounts(tenant.id);
      for (const pattern of ['inv*', '*.paid', 'a..*', 'invoice.*.paid', '**', '.*', 'invoice.', 'invoice.**']) {
        const response = await hooklane.gql(
          tenant.token,
          'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }',
          { input: { url: receiver.url, eventTypes: ['invoice.paid', pattern] } },
        );
        expect(response.errors?.[0]?.extensions?.code, pattern).toBe('BAD_USER_INPUT');
        expect(response.errors?.[0]?.extensions?.field, pattern).toBe('eventTypes');
      }
      // And on update.
      const existing = await subscribe(tenant.token, { url: receiver.url, eventTypes: ['invoice.paid'] });
      const update = await hooklane.gql(
        tenant.token,
        'mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { id } } }',
        { input: { id: existing.id, eventTypes: ['inv*'] } },
      );
      expect(update.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect((await tenantCounts(tenant.id)).subscriptions).toBe(before.subscriptions + 1);
      const [row] = await hooklane.sql<{ event_types: string[] }[]>`select event_types from subscriptions where id = ${existing.id}`;
      expect(row!.event_types).toEqual(['invoice.paid']);
    });

    it('accepts a wildcard before any event type under it exists, and delivers once one does', async () => {
      const tenant = await newTenant('invoice.paid');
      const receiver = await newReceiver();
      // An exact unknown name is refused, a wildcard over unknown names is not.
      const unknown = await hooklane.gql(
        tenant.token,
        'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }',
        { input: { url: receiver.url, eventTypes: ['shipment.sent'] } },
      );
      expect(unknown.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const sub = await subscribe(tenant.token, { url: receiver.url, eventTypes: ['shipment.*'] });
      expect(sub.eventTypes).toEqual(['shipment.*']);

      await createEventType(hooklane, tenant.token, { name: 'shipment.sent' });
      const sent = await publishWith(hooklane, tenant.token, { eventType: 'shipment.sent', payload: { parcel: 7 } });
      const other = await publishWith(hooklane, tenant.token, { eventType: 'invoice.paid', payload: {} });
      expect(subscribedIds(sent)).toEqual([sub.id]);
      expect(other.deliveries).toEqual([]);
      await waitSucceeded(sub.id, 1);
      expect(receiver.requests.map((request) => request.webhookId)).toEqual([sent.id]);
      expect(receiver.requests[0]!.body.data).toEqual({ parcel: 7 });
    });
  });

  it('channels: a subscription with channels gets only events on one of them; one without gets every event', async () => {
    const tenant = await newTenant('order.created');
    const [euReceiver, anyReceiver] = await Promise.all([newReceiver(), newReceiver()]);
    const eu = await subscribe(tenant.token, { url: euReceiver.url, eventTypes: ['order.created'], channels: ['eu'] });
    const any = await subscribe(tenant.token, { url: anyReceiver.url, eventTypes: ['order.created'] });
    expect(eu.channels).toEqual(['eu']);
    expect(any.channels).toBeNull();

    const onEu = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 }, channels: ['eu'] });
    const onUs = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 2 }, channels: ['us'] });
    const onNone = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 3 } });
    const onBoth = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 4 }, channels: ['us', 'eu'] });
    expect(subscribedIds(onEu)).toEqual([eu.id, any.id].sort());
    expect(subscribedIds(onUs)).toEqual([any.id]);
    expect(subscribedIds(onNone)).toEqual([any.id]);
    expect(subscribedIds(onBoth)).toEqual([eu.id, any.id].sort());

    await waitSucceeded(eu.id, 2);
    await waitSucceeded(any.id, 4);
    expect(euReceiver.requests.map((request) => request.webhookId).sort()).toEqual([onEu.id, onBoth.id].sort());
    expect(anyReceiver.requests.map((request) => request.webhookId).sort()).toEqual([onEu.id, onUs.id, onNone.id, onBoth.id].sort());
    // Channels are not part of the body: it is the same contract body for every subscription.
    const euBody = euReceiver.requests.find((request) => request.webhookId === onEu.id)!.rawBody;
    expect(anyReceiver.requests.find((request) => request.webhookId === onEu.id)!.rawBody).toBe(euBody);
  });

  it('payloadMode THIN sends only the event id, signed; the receiver fetches the full event; FULL is unchanged', async () => {
    const tenant = await newTenant('order.created');
    const [thinReceiver, fullReceiver] = await Promise.all([newReceiver(), newReceiver()]);
    const thin = await createSubscriptionWith(hooklane, tenant.token, {
      url: thinReceiver.url,
      eventTypes: ['order.created'],
      payloadMode: 'THIN',
    });
    const full = await createSubscriptionWith(hooklane, tenant.token, { url: fullReceiver.url, eventTypes: ['order.created'] });
    expect(thin.subscription.payloadMode).toBe('THIN');
    expect(full.subscription.payloadMode).toBe('FULL');

    const payload = { orderId: 'o-1', total: { amount: 4200, currency: 'EUR' }, lines: [1, 2, 3], note: 'ünïcode "quoted"' };
    const event = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload });
    await waitSucceeded(thin.subscription.id, 1);
    await waitSucceeded(full.subscription.id, 1);

    const [thinRequest] = thinReceiver.requests;
    expect(thinRequest!.rawBody).toBe(
      `{"type":"order.created","timestamp":"${event.createdAt}","data":{"id":"${event.id}"}}`,
    );
    expect(thinRequest!.webhookId).toBe(event.id);
    expect(new StandardWebhook(thin.secret).verify(thinRequest!.rawBody, webhookHeadersOf(thinRequest!.headers))).toEqual({
      type: 'order.created',
      timestamp: event.createdAt,
      data: { id: event.id },
    });
    expect(() => new StandardWebhook(full.secret).verify(thinRequest!.rawBody, webhookHeadersOf(thinRequest!.headers))).toThrow();

    // The receiver looks the event up with the id it was sent (a read-only token is enough).
    const readToken = await hooklane.tenantToken(tenant.id, { scope: 'events:read' });
    const fetched = await gqlData(hooklane, readToken, 'query($id: ID!) { event(id: $id) { id eventType payload } }', {
      id: thinRequest!.body.data.id,
    });
    expect(fetched.event).toEqual({ id: event.id, eventType: 'order.created', payload });
    // ...and another tenant cannot.
    const stranger = await hooklane.createTenant();
    expect(await getEvent(hooklane, stranger.token, event.id)).toBeNull();

    const [fullRequest] = fullReceiver.requests;
    expect(fullRequest!.rawBody).toBe(
      `{"type":"order.created","timestamp":"${event.createdAt}","data":${JSON.stringify(payload)}}`,
    );
    expect(new StandardWebhook(full.secret).verify(fullRequest!.rawBody, webhookHeadersOf(fullRequest!.headers))).toEqual({
      type: 'order.created',
      timestamp: event.createdAt,
      data: payload,
    });
  });

  describe('publishEvents', () => {
    it('refuses 1,001 events with BAD_USER_INPUT and writes nothing', async () => {
      const tenant = await newTenant('order.created');
      const receiver = await newReceiver();
      await subscribe(tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
      const before = await tenantCounts(tenant.id);
      const response = await publishBatch(
        hooklane,
        tenant.token,
        Array.from({ length: 1_001 }, (_, i) => ({ eventType: 'order.created', payload: { i } })),
      );
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.extensions?.field).toBe('events');
      expect(response.data ?? null).toBeNull();
      const empty = await publishBatch(hooklane, tenant.token, []);
      expect(empty.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(await tenantCounts(tenant.id)).toEqual(before);
      expect(receiver.requests).toHaveLength(0);
    });

    it('refuses the whole batch when one payload fails its JSON schema, naming events[i].payload, and writes nothing', async () => {
      const tenant = await newTenant('order.created');
      await createEventType(hooklane, tenant.token, {
        name: 'invoice.paid',
        schema: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
      });
      const receiver = await newReceiver();
      await subscribe(tenant.token, { url: receiver.url, eventTypes: ['*'] });
      const before = await tenantCounts(tenant.id);
      // Let earlier tests' work drain, so that the global job count is stable: nothing may be enqueued
      // (the retention sweep's next run waits in the queue all along).
      const jobCount = async () =>
        (await hooklane.sql<{ count: number }[]>`select count(*)::int as count from graphile_worker.jobs where task_identifier <> 'retention_sweep'`)[0]!.count;
      await eventually(async () => ((await jobCount()) === 0 ? true : undefined), 10_000, 'an idle job queue');

      const response = await publishBatch(hooklane, tenant.token, [
        { eventType: 'order.created', payload: { n: 0 } },
        { eventType: 'invoice.paid', payload: { amount: 10 } },
        { eventType: 'order.created', payload: { n: 2 }, idempotencyKey: 'batch-key' },
        { eventType: 'invoice.paid', payload: { amount: 'ten' } },
        { eventType: 'invoice.paid', payload: { amount: 30 } },
      ]);
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.extensions?.field).toBe('events[3].payload');
      expect(await tenantCounts(tenant.id)).toEqual(before);
      expect(await jobCount()).toBe(0);
      // Its idempotency key was not used up either.
      const retry = await publishBatch(hooklane, tenant.token, [
        { eventType: 'order.created', payload: { n: 2 }, idempotencyKey: 'batch-key' },
      ]);
      expect(retry.errors).toBeUndefined();
      expect((await tenantCounts(tenant.id)).events).toBe(before.events + 1);
      // Its one delivery arrives, and then nothing of the tenant's is left to send.
      await receiver.waitFor((r) => r.requests.length >= 1, 10_000, 'the delivery of the accepted batch');
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests.map((request) => request.body.data)).toEqual([{ n: 2 }]);
    });

    it('names the offending item of a batch in extensions.field for every per-event field', async () => {
      const tenant = await newTenant('order.created');
      const ok = { eventType: 'order.created', payload: {} };
      const cases: [Record<string, unknown>, string][] = [
        [{ eventType: 'no.such.type', payload: {} }, 'events[1].eventType'],
        [{ eventType: 'order.created', payload: {}, channels: ['not a channel!'] }, 'events[1].channels'],
        [{ eventType: 'order.created', payload: {}, idempotencyKey: '' }, 'events[1].idempotencyKey'],
        [{ eventType: 'order.created', payload: {}, orderingKey: 'k'.repeat(201) }, 'events[1].orderingKey'],
      ];
      const before = await tenantCounts(tenant.id);
      for (const [bad, field] of cases) {
        const response = await publishBatch(hooklane, tenant.token, [ok, bad, ok]);
        expect(response.errors?.[0]?.extensions?.code, field).toBe('BAD_USER_INPUT');
        expect(response.errors?.[0]?.extensions?.field, field).toBe(field);
      }
      expect(await tenantCounts(tenant.id)).toEqual(before);
    });

    it('a key repeated inside one batch gives one event; repeating the batch gives the same ids and no new deliveries', async () => {
      const tenant = await newTenant('order.created');
      const receiver = await newReceiver();
      const sub = await subscribe(tenant.token, { url: receiver.url, eventTypes: ['order.created'] });

      const batch = [
        { eventType: 'order.created', payload: { v: 'first' }, idempotencyKey: 'k1' },
        { eventType: 'order.created', payload: { v: 'other' }, idempotencyKey: 'k2' },
        { eventType: 'order.created', payload: { v: 'second' }, idempotencyKey: 'k1' },
        { eventType: 'order.created', payload: { v: 'no key' } },
      ];
      const first = await publishBatch(hooklane, tenant.token, batch);
      expect(first.errors).toBeUndefined();
      const events = first.data!.publishEvents.events;
      expect(events).toHaveLength(4);
      expect(events[2]!.id).toBe(events[0]!.id);
      // The first event of the key wins.
      expect(events[2]!.payload).toEqual({ v: 'first' });
      expect(events[0]!.idempotencyKey).toBe('k1');
      expect(new Set(events.map((event) => event.id)).size).toBe(3);
      expect(await tenantCounts(tenant.id)).toMatchObject({ events: 3, deliveries: 3 });
      await waitSucceeded(sub.id, 3);
      expect(receiver.requests.map((request) => request.webhookId).sort()).toEqual(
        [events[0]!.id, events[1]!.id, events[3]!.id].sort(),
      );

      // The same keys again (the key-less event is new by definition), plus one new key.
      const again = await publishBatch(hooklane, tenant.token, [
        batch[0]!,
        batch[1]!,
        batch[2]!,
        { eventType: 'order.created', payload: { v: 'third' }, idempotencyKey: 'k3' },
      ]);
      expect(again.errors).toBeUndefined();
      const repeated = again.data!.publishEvents.events;
      expect(repeated.slice(0, 3).map((event) => event.id)).toEqual(events.slice(0, 3).map((event) => event.id));
      expect(repeated[3]!.id).not.toBe(events[3]!.id);
      expect(await tenantCounts(tenant.id)).toMatchObject({ events: 4, deliveries: 4 });
      await waitSucceeded(sub.id, 4);
      await tenantIdle(hooklane, tenant.id);
      expect(receiver.requests).toHaveLength(4);
      expect(receiver.requests.filter((request) => request.webhookId === events[0]!.id)).toHaveLength(1);

      // A single publishEvent with a batch's key returns that batch's event.
      const single = await publishWith(hooklane, tenant.token, { eventType: 'order.created', payload: { v: 'late' }, idempotencyKey: 'k2' });
      expect(single.id).toBe(events[1]!.id);
      expect(await tenantCounts(tenant.id)).toMatchObject({ events: 4, deliveries: 4 });
    });

    it('publishes 1,000 events in one call, returns their ids in input order, and delivers every one', async () => {
      const tenant = await newTenant('order.created');
      const receiver = await newReceiver();
      const sub = await subscribe(tenant.token, { url: receiver.url, eventTypes: ['order.created'] });

      const input = Array.from({ length: 1_000 }, (_, i) => ({ eventType: 'order.created', payload: { i } }));
      const response = await publishBatch(hooklane, tenant.token, input, 'id payload');
      expect(response.errors).toBeUndefined();
      const events = response.data!.publishEvents.events;
      expect(events).toHaveLength(1_000);
      expect(events.map((event) => event.payload.i)).toEqual(input.map((_, i) => i));
      const ids = events.map((event) => event.id);
      expect(new Set(ids).size).toBe(1_000);
      const counts = await tenantCounts(tenant.id);
      expect(counts.events).toBe(1_000);
      expect(counts.deliveries).toBe(1_000);

      // Last in the file, so that a slow drain cannot hold up other tests. About 20 s is plenty on an
      // idle machine; the margin is for a 2-core machine shared with other suites.
      await waitSucceeded(sub.id, 1_000, 60_000);
      expect(new Set(receiver.requests.map((request) => request.webhookId))).toEqual(new Set(ids));
      // Each body carries its own payload.
      for (const request of receiver.requests) expect(ids[request.body.data.i]).toBe(request.webhookId);
    }, 90_000);
  });
});
