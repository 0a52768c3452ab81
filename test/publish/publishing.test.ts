import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  countRows,
  createEventType,
  createSubscription,
  DELIVERY_FIELDS,
  getDelivery,
  getEvent,
  gqlData,
  gqlErrorCode,
  publish,
  waitForDelivery,
  webhookHeadersOf,
} from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { receiverPool } from '../support/fixtures.js';
import { Hold, TestReceiver } from '../support/receiver.js';

const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';
const CREATE_SUBSCRIPTION =
  'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } secret } }';
const UPDATE_SUBSCRIPTION =
  'mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { id url } } }';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('publishing', () => {
  let hooklane: TestHooklane;
  const receivers = receiverPool();
  const newReceiver = () => receivers.start();

  /** A tenant with one event type and a subscription to it on a fresh receiver. */
  const subscribedTenant = async (eventType = 'invoice.paid', schema?: unknown) => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: eventType, ...(schema === undefined ? {} : { schema }) });
    const receiver = await newReceiver();
    const { subscription, secret } = await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: [eventType] });
    return { ...tenant, receiver, subscription, secret };
  };

  /** Jobs not yet finished for a tenant (the `graphile_worker.jobs` view has no payload column, its table does). */
  const jobsOfTenant = async (tenantId: string) => {
    const [row] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from graphile_worker._private_jobs where payload->>'tenantId' = ${tenantId}`;
    return row!.count;
  };

  const noJobsLeft = (tenantId: string) =>
    eventually(async () => ((await jobsOfTenant(tenantId)) === 0 ? true : undefined), 5_000, 'the job queue to drain');

  beforeAll(async () => {
    hooklane = await startTestHooklane();
  });
  afterEach(async () => {
    await receivers.closeAll();
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  describe('idempotency', () => {
    it('a repeated idempotencyKey returns the first event and delivers nothing new', async () => {
      const tenant = await subscribedTenant();
      const first = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { n: 1 }, idempotencyKey: 'key-1' });
      expect(first.idempotencyKey).toBe('key-1');
      expect(first.deliveries).toHaveLength(1);
      await waitForDelivery(hooklane, tenant.token, first.deliveries[0]!.id, 'SUCCEEDED');
      await noJobsLeft(tenant.id);

      // Same key, different payload: still the first event.
      const again = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { n: 2 }, idempotencyKey: 'key-1' });
      expect(again.id).toBe(first.id);
      expect(again.payload).toEqual({ n: 1 });
      expect(again.deliveries.map((delivery) => delivery.id)).toEqual([first.deliveries[0]!.id]);
      expect(await jobsOfTenant(tenant.id)).toBe(0);

      const [events] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from events where tenant_id = ${tenant.id}`;
      expect(events!.count).toBe(1);
      const [deliveries] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from deliveries where tenant_id = ${tenant.id}`;
      expect(deliveries!.count).toBe(1);
      // No job was written for the repeat, so no request can follow the first.
      expect(tenant.receiver.requests).toHaveLength(1);
      expect(tenant.receiver.requests[0]!.headers['webhook-id']).toBe(first.id);

      // Another key is another event.
      const other = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { n: 3 }, idempotencyKey: 'key-2' });
      expect(other.id).not.toBe(first.id);
    });

    it('10 concurrent publishes with one key make one event and one delivery', async () => {
      const tenant = await subscribedTenant();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { i }, idempotencyKey: 'race' }),
        ),
      );
      const ids = new Set(results.map((event) => event.id));
      expect(ids.size).toBe(1);
      const [eventId] = [...ids];

      const [events] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from events where tenant_id = ${tenant.id}`;
      expect(events!.count).toBe(1);
      const [deliveries] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from deliveries where tenant_id = ${tenant.id}`;
      expect(deliveries!.count).toBe(1);

      const event = await getEvent(hooklane, tenant.token, eventId!);
      expect(event!.deliveries).toHaveLength(1);
      await waitForDelivery(hooklane, tenant.token, event!.deliveries[0]!.id, 'SUCCEEDED');
      await noJobsLeft(tenant.id);
      expect(tenant.receiver.requests).toHaveLength(1);
      expect(tenant.receiver.requests[0]!.headers['webhook-id']).toBe(eventId);
    });
  });

  describe('a refused publish writes nothing', () => {
    const snapshot = async () => ({
      events: await countRows(hooklane, 'events'),
      deliveries: await countRows(hooklane, 'deliveries'),
      jobs: await countRows(hooklane, 'graphile_worker.jobs'),
    });

    it('unknown event type and schema-failing payload are BAD_USER_INPUT and leave the tables unchanged', async () => {
      const tenant = await subscribedTenant('invoice.paid', {
        type: 'object',
        required: ['amount'],
        properties: { amount: { type: 'integer', minimum: 0 } },
      });
      await noJobsLeft(tenant.id);
      const before = await snapshot();

      const refusals = [
        { eventType: 'invoice.unknown', payload: { amount: 1 }, idempotencyKey: 'refused-key' },
        { eventType: 'invoice.paid', payload: { amount: 'ten' }, idempotencyKey: 'refused-key' },
        { eventType: 'invoice.paid', payload: {}, idempotencyKey: 'refused-key' },
        { eventType: 'invoice.paid', payload: { amount: -5 } },
        { eventType: 'not a name!', payload: { amount: 1 } },
      ];
      for (const input of refusals) {
        expect(await gqlErrorCode(hooklane, tenant.token, PUBLISH, { input }), JSON.stringify(input)).toBe('BAD_USER_INPUT');
      }

      expect(await snapshot()).toEqual(before);
      await noJobsLeft(tenant.id);
      expect(tenant.receiver.requests).toHaveLength(0);

      // The refused key was not used up: a valid publish with it creates the event.
      const accepted = await publish(hooklane, tenant.token, {
        eventType: 'invoice.paid',
        payload: { amount: 10 },
        idempotencyKey: 'refused-key',
      });
      expect(accepted.payload).toEqual({ amount: 10 });
      expect(accepted.deliveries).toHaveLength(1);
      expect(await countRows(hooklane, 'events')).toBe(before.events + 1);
      expect(await countRows(hooklane, 'deliveries')).toBe(before.deliveries + 1);
      await waitForDelivery(hooklane, tenant.token, accepted.deliveries[0]!.id, 'SUCCEEDED');
    });
  });

  describe('what a publish read is reused only while it is current', () => {
    // Each test publishes once first, so that the process holds that read for the next publish.
    it('a subscription created after a publish receives the next one', async () => {
      const tenant = await subscribedTenant('order.paid');
      const before = await publish(hooklane, tenant.token, { eventType: 'order.paid', payload: { n: 1 } });
      expect(before.deliveries).toHaveLength(1);
      const second = await newReceiver();
      const { subscription } = await createSubscription(hooklane, tenant.token, { url: second.url, eventTypes: ['order.*'] });

      const after = await publish(hooklane, tenant.token, { eventType: 'order.paid', payload: { n: 2 } });
      expect(after.deliveries.map((delivery) => delivery.subscription.id).sort()).toEqual([tenant.subscription.id, subscription.id].sort());
      await waitForDelivery(hooklane, tenant.token, after.deliveries.find((d) => d.subscription.id === subscription.id)!.id, 'SUCCEEDED');
      expect(second.requests).toHaveLength(1);
    });

    it('a subscription disabled behind the process (another API process, an operator) holds the next delivery', async () => {
      const tenant = await subscribedTenant('order.shipped');
      await publish(hooklane, tenant.token, { eventType: 'order.shipped', payload: { n: 1 } });
      await hooklane.sql`update subscriptions set enabled = false where id = ${tenant.subscription.id}`;

      const after = await publish(hooklane, tenant.token, { eventType: 'order.shipped', payload: { n: 2 } });
      expect(after.deliveries.map((delivery) => delivery.status)).toEqual(['HELD']);
    });

    it("a change to another tenant's subscriptions leaves this tenant's reads in use", async () => {
      const tenant = await subscribedTenant('order.viewed');
      const other = await subscribedTenant('order.viewed');
      await publish(hooklane, tenant.token, { eventType: 'order.viewed', payload: { n: 1 } });
      const [before] = await hooklane.sql<{ version: number }[]>`select config_version::int as version from tenants where id = ${tenant.id}`;
      await hooklane.sql`update subscriptions set enabled = false where id = ${other.subscription.id}`;
      const [after] = await hooklane.sql<{ version: number }[]>`select config_version::int as version from tenants where id = ${tenant.id}`;
      expect(after!.version).toBe(before!.version);
      const event = await publish(hooklane, tenant.token, { eventType: 'order.viewed', payload: { n: 2 } });
      // Not HELD. The answer reads the delivery after the write, so the worker may already have
      // delivered it (seen once in CI): PENDING or SUCCEEDED.
      expect(event.deliveries).toHaveLength(1);
      expect(['PENDING', 'SUCCEEDED']).toContain(event.deliveries[0]!.status);
    });
  });

  describe('the stored body is what is sent', () => {
    it('sends {"type","timestamp","data"} with the payload key order preserved', async () => {
      const tenant = await subscribedTenant();
      const payload = { z: 1, a: 2, m: { y: [3, { k: null, b: true }], c: 'x' }, n: -1.5 };
      const event = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload });
      const [request] = await tenant.receiver.waitForRequests(1);
      expect(request!.rawBody).toBe(
        `{"type":"invoice.paid","timestamp":"${event.createdAt}","data":{"z":1,"a":2,"m":{"y":[3,{"k":null,"b":true}],"c":"x"},"n":-1.5}}`,
      );
      expect(event.createdAt).toMatch(ISO);
      expect(Object.keys(event.payload as object)).toEqual(['z', 'a', 'm', 'n']);
      const [stored] = await hooklane.sql<{ body: string }[]>`select body from events where id = ${event.id}`;
      expect(stored!.body).toBe(request!.rawBody);
    });

    it('round-trips unicode payloads, and the signature covers the UTF-8 bytes', async () => {
      const tenant = await subscribedTenant();
      const payload = {
        text: 'héllo wörld — “quotes” ✓',
        cjk: '日本語のテキスト',
        emoji: '🎉👩‍👩‍👧',
        rtl: 'مرحبا',
        escapes: 'tab\tnewline\nquote"backslash\\',
        'ключ': 'значение',
      };
      const event = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload });
      expect(event.payload).toEqual(payload);
      const [request] = await tenant.receiver.waitForRequests(1);
      expect(request!.rawBody).toBe(
        `{"type":"invoice.paid","timestamp":"${event.createdAt}","data":${JSON.stringify(payload)}}`,
      );
      expect(JSON.parse(request!.rawBody).data).toEqual(payload);
      expect(new StandardWebhook(tenant.secret).verify(request!.rawBody, webhookHeadersOf(request!.headers))).toMatchObject({
        data: payload,
      });
      const fetched = await getEvent(hooklane, tenant.token, event.id);
      expect(fetched!.payload).toEqual(payload);
    });
  });

  describe('queries', () => {
    it('event.deliveries, delivery(id) and attempts have the right shapes', async () => {
      const tenant = await subscribedTenant();
      // The first attempt is answered only once the publish's answer is checked: until then it has
      // recorded nothing, however soon the worker starts it.
      const firstAttempt = new Hold();
      tenant.receiver.replyWith({ status: 500, body: 'first fails', heldUntil: firstAttempt.released }, { status: 201, body: 'created' });
      const event = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { q: 1 } });
      expect(event).toMatchObject({ eventType: 'invoice.paid', payload: { q: 1 }, idempotencyKey: null });
      expect(event.id).toMatch(/^evt_/);
      expect(event.deliveries).toHaveLength(1);
      const pending = event.deliveries[0]!;
      expect(pending.id).toMatch(/^dlv_/);
      expect(pending.status).toBe('PENDING');
      expect(pending.attemptCount).toBe(0);
      expect(pending.attempts).toEqual([]);
      expect(pending.subscription.id).toBe(tenant.subscription.id);
      expect(pending.event.id).toBe(event.id);

      firstAttempt.release();
      await waitForDelivery(hooklane, tenant.token, pending.id, 'SUCCEEDED');
      const data = await gqlData(
        hooklane,
        tenant.token,
        `query($id: ID!) { delivery(id: $id) { ${DELIVERY_FIELDS}
          subscriptionDetail: subscription { id url eventTypes enabled }
          eventDetail: event { id eventType payload deliveries { id } } } }`,
        { id: pending.id },
      );
      const delivery = data.delivery;
      expect(delivery).toMatchObject({
        id: pending.id,
        status: 'SUCCEEDED',
        attemptCount: 2,
        nextAttemptAt: null,
        subscriptionDetail: { id: tenant.subscription.id, url: tenant.receiver.url, eventTypes: ['invoice.paid'], enabled: true },
        eventDetail: { id: event.id, eventType: 'invoice.paid', payload: { q: 1 }, deliveries: [{ id: pending.id }] },
      });
      expect(delivery.createdAt).toMatch(ISO);
      expect(delivery.attempts).toHaveLength(2);
      const [failed, succeeded] = delivery.attempts;
      expect(failed).toMatchObject({ statusCode: 500, responseBody: 'first fails' });
      expect(succeeded).toMatchObject({ statusCode: 201, error: null, responseBody: 'created' });
      for (const attempt of delivery.attempts) {
        expect(attempt.id).toMatch(/^att_/);
        expect(attempt.createdAt).toMatch(ISO);
        expect(Number.isInteger(attempt.durationMs)).toBe(true);
        expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
      }
      // Oldest first.
      expect(Date.parse(failed.createdAt)).toBeLessThanOrEqual(Date.parse(succeeded.createdAt));

      // event(id).deliveries carries the same delivery.
      const viaEvent = await getEvent(hooklane, tenant.token, event.id);
      expect(viaEvent!.deliveries).toEqual([await getDelivery(hooklane, tenant.token, pending.id)]);
    });

    it('delivery(id) and event(id) of nonexistent or foreign ids are null', async () => {
      const owner = await subscribedTenant();
      const stranger = await hooklane.createTenant('Stranger');
      const event = await publish(hooklane, owner.token, { eventType: 'invoice.paid', payload: {} });
      const deliveryId = event.deliveries[0]!.id;

      expect(await getDelivery(hooklane, owner.token, 'dlv_00000000000000000000000000000000')).toBeNull();
      expect(await getDelivery(hooklane, owner.token, 'nonsense')).toBeNull();
      expect(await getEvent(hooklane, owner.token, 'evt_00000000000000000000000000000000')).toBeNull();
      // Another tenant's objects behave as if they did not exist.
      expect(await getDelivery(hooklane, stranger.token, deliveryId)).toBeNull();
      expect(await getEvent(hooklane, stranger.token, event.id)).toBeNull();
      const retried = await gqlErrorCode(
        hooklane,
        stranger.token,
        'mutation($input: RetryDeliveryInput!) { retryDelivery(input: $input) { delivery { id } } }',
        { input: { id: deliveryId } },
      );
      expect(retried).toBe('NOT_FOUND');
      await waitForDelivery(hooklane, owner.token, deliveryId, 'SUCCEEDED');
    });
  });
});

describe('private networks refused (DELIVERY_ALLOW_PRIVATE_NETWORKS=false)', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;

  beforeAll(async () => {
    hooklane = await startTestHooklane({ DELIVERY_ALLOW_PRIVATE_NETWORKS: 'false' });
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await receiver?.close();
    await hooklane?.stop();
  });

  it('createSubscription and updateSubscription refuse loopback, private and metadata URLs', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'invoice.paid' });
    const port = new URL(receiver.url).port;
    const privateUrls = [
      receiver.url,
      `http://127.0.0.1:${port}/`,
      `http://localhost:${port}/`,
      `http://[::1]:${port}/`,
      'http://10.0.0.1/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data',
    ];
    for (const url of privateUrls) {
      expect(await gqlErrorCode(hooklane, tenant.token, CREATE_SUBSCRIPTION, { input: { url, eventTypes: ['invoice.paid'] } }), url).toBe(
        'BAD_USER_INPUT',
      );
    }
    expect(await countRows(hooklane, 'subscriptions')).toBe(0);

    // A public URL is accepted; moving it to a private one is refused and changes nothing.
    const { subscription } = await createSubscription(hooklane, tenant.token, {
      url: 'https://example.com/hooks',
      eventTypes: ['invoice.paid'],
    });
    expect(
      await gqlErrorCode(hooklane, tenant.token, UPDATE_SUBSCRIPTION, { input: { id: subscription.id, url: receiver.url } }),
    ).toBe('BAD_USER_INPUT');
    const [row] = await hooklane.sql<{ url: string }[]>`select url from subscriptions where id = ${subscription.id}`;
    expect(row!.url).toBe('https://example.com/hooks');
  });

  it('a stored subscription that points at localhost is refused at send time, never reached', async () => {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'invoice.paid' });
    const { subscription } = await createSubscription(hooklane, tenant.token, {
      url: 'https://example.com/hooks',
      eventTypes: ['invoice.paid'],
    });
    // As if it had been created before the policy was tightened: the API can no longer write such a URL.
    const localUrl = `http://localhost:${new URL(receiver.url).port}/webhook`;
    await hooklane.sql`update subscriptions set url = ${localUrl} where id = ${subscription.id}`;

    const event = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { secret: 'data' } });
    const delivery = await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'FAILED');
    expect(delivery.attemptCount).toBe(3);
    for (const attempt of delivery.attempts) {
      expect(attempt.statusCode).toBeNull();
      expect(attempt.error).toMatch(/refused/);
    }
    expect(receiver.requests).toHaveLength(0);
  });
});
