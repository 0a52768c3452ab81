/**
 * sendTestEvent: one example event, to one subscription, now. It is the event type's examples[0] or
 * a payload made to pass its schema, is sent to a disabled subscription too, is attempted once,
 * takes a publish-rate token without counting towards the month, and is listed with `test: true`.
 */
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayloadSchemas } from '../../src/domain/payload-schemas.js';
import { BUILT_IN_EVENT_TYPE_LIST } from '../../src/publish/built-in-event-types.js';
import {
  createEventType,
  createSubscription,
  gqlData,
  publish,
  updateSubscription,
  waitForDelivery,
  webhookHeadersOf,
} from '../support/graphql-helpers.js';
import { tenantIdle, startTestHooklane, type GraphQLResponse, type TestHooklane } from '../support/hooklane.js';
import { receiverPool } from '../support/fixtures.js';
import type { TestReceiver } from '../support/receiver.js';

const SEND_TEST_EVENT = `mutation($input: SendTestEventInput!) {
  sendTestEvent(input: $input) { delivery { id status attemptCount subscription { id enabled } event { id eventType payload test eventTypeVersion } } }
}`;

interface SentDelivery {
  id: string;
  status: string;
  attemptCount: number;
  subscription: { id: string; enabled: boolean };
  event: { id: string; eventType: string; payload: unknown; test: boolean; eventTypeVersion: number };
}

const INVOICE_SCHEMA = {
  type: 'object',
  required: ['amount', 'currency'],
  properties: { amount: { type: 'integer', minimum: 1 }, currency: { enum: ['EUR', 'USD'] } },
  examples: [{ amount: 4200, currency: 'EUR' }],
};
const ORDER_SCHEMA = {
  type: 'object',
  required: ['orderId', 'lines', 'placedAt'],
  additionalProperties: false,
  properties: {
    orderId: { type: 'string', minLength: 8 },
    placedAt: { type: 'string', format: 'date-time' },
    lines: { type: 'array', minItems: 1, items: { type: 'object', required: ['sku', 'quantity'], properties: { sku: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } } } },
    note: { type: ['string', 'null'], maxLength: 20 },
  },
};
const PATTERN_SCHEMA = { type: 'object', required: ['code'], properties: { code: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{4}$' } } };

describe('sendTestEvent', () => {
  let hooklane: TestHooklane;
  const receivers = receiverPool();

  beforeAll(async () => {
    hooklane = await startTestHooklane();
  });
  afterAll(async () => {
    await receivers.closeAll();
    await hooklane?.stop();
  });

  /** A tenant with three event types, and a subscription to two of them on a receiver of its own. */
  async function tenantWithSubscription(eventTypes = ['invoice.paid', 'order.created']) {
    const tenant = await hooklane.createTenant();
    await createEventType(hooklane, tenant.token, { name: 'invoice.paid', schema: INVOICE_SCHEMA });
    await createEventType(hooklane, tenant.token, { name: 'order.created', schema: ORDER_SCHEMA });
    await createEventType(hooklane, tenant.token, { name: 'code.issued', schema: PATTERN_SCHEMA });
    const receiver = await receivers.start();
    const { subscription, secret } = await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes });
    return { ...tenant, receiver, subscription, secret };
  }

  const sendTestEvent = (token: string, input: Record<string, unknown>) =>
    hooklane.gql<{ sendTestEvent: { delivery: SentDelivery } }>(token, SEND_TEST_EVENT, { input });

  async function sent(token: string, input: Record<string, unknown>): Promise<SentDelivery> {
    const response = await sendTestEvent(token, input);
    expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
    return response.data!.sendTestEvent.delivery;
  }

  function refusal(response: GraphQLResponse): { code: unknown; message: string; field: unknown } {
    expect(response.errors, JSON.stringify(response)).toHaveLength(1);
    expect(response.data?.sendTestEvent ?? null).toBeNull();
    const [error] = response.errors!;
    return { code: error!.extensions?.code, message: error!.message, field: error!.extensions?.field };
  }

  const eventCount = async (tenantId: string) =>
    (await hooklane.sql<{ n: number }[]>`select count(*)::int as n from events where tenant_id = ${tenantId}`)[0]!.n;

  /** The only request `receiver` got from the delivery's event, its signature verified. */
  async function receivedOnce(receiver: TestReceiver, tenantId: string, eventId: string, secret: string) {
    await tenantIdle(hooklane, tenantId);
    const requests = receiver.requests.filter((request) => request.headers['webhook-id'] === eventId);
    expect(requests).toHaveLength(1);
    const verified = new StandardWebhook(secret).verify(requests[0]!.rawBody, webhookHeadersOf(requests[0]!.headers));
    return verified as { type: string; timestamp: string; data: unknown };
  }

  it("sends the schema's examples[0] of the subscription's first event type, to that subscription alone", async () => {
    const tenant = await tenantWithSubscription();
    const other = await receivers.start();
    await createSubscription(hooklane, tenant.token, { url: other.url, eventTypes: ['invoice.paid', 'order.created'] });

    const delivery = await sent(tenant.token, { subscriptionId: tenant.subscription.id });
    expect(delivery.subscription.id).toBe(tenant.subscription.id);
    expect(delivery.event).toMatchObject({ eventType: 'invoice.paid', payload: { amount: 4200, currency: 'EUR' }, test: true, eventTypeVersion: 1 });
    expect((await waitForDelivery(hooklane, tenant.token, delivery.id, 'SUCCEEDED')).attemptCount).toBe(1);

    const body = await receivedOnce(tenant.receiver, tenant.id, delivery.event.id, tenant.secret);
    expect(body).toMatchObject({ type: 'invoice.paid', data: { amount: 4200, currency: 'EUR' } });
    // The other subscription to the same event type got nothing: a test event is not fanned out.
    expect(other.requests).toHaveLength(0);
    const rows = await hooklane.sql`select subscription_id from deliveries where event_id = ${delivery.event.id}`;
    expect(rows).toEqual([{ subscription_id: tenant.subscription.id }]);
  });

  it('sends a payload made to pass the schema of an event type without examples', async () => {
    const tenant = await tenantWithSubscription();
    const delivery = await sent(tenant.token, { subscriptionId: tenant.subscription.id, eventType: 'order.created' });
    await waitForDelivery(hooklane, tenant.token, delivery.id, 'SUCCEEDED');
    const body = await receivedOnce(tenant.receiver, tenant.id, delivery.event.id, tenant.secret);
    expect(body.type).toBe('order.created');
    expect(body.data).toEqual(delivery.event.payload);
    const schema = { id: 'etp_check', name: 'order.created', schema: ORDER_SCHEMA };
    expect(() => new PayloadSchemas().assertPayload(schema, body.data)).not.toThrow();
    expect(body.data).toMatchObject({ lines: [{ sku: expect.any(String), quantity: 1 }] });
  });

  it('reaches a disabled subscription at once, holding nothing and leaving it disabled', async () => {
    const tenant = await tenantWithSubscription();
    await updateSubscription(hooklane, tenant.token, { id: tenant.subscription.id, enabled: false });
    const held = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { amount: 1, currency: 'USD' } });
    expect(held.deliveries.map((d) => d.status)).toEqual(['HELD']);

    const delivery = await sent(tenant.token, { subscriptionId: tenant.subscription.id });
    // Not HELD: the worker may already have sent it by the time the answer is read.
    expect(['PENDING', 'SUCCEEDED']).toContain(delivery.status);
    expect(delivery.subscription.enabled).toBe(false);
    await waitForDelivery(hooklane, tenant.token, delivery.id, 'SUCCEEDED');
    await receivedOnce(tenant.receiver, tenant.id, delivery.event.id, tenant.secret);
    // Only the test event arrived: the held delivery is still held, the subscription still disabled.
    expect(tenant.receiver.requests).toHaveLength(1);
    const { subscription } = await gqlData(hooklane, tenant.token, 'query($id: ID!) { subscription(id: $id) { enabled heldDeliveryCount } }', {
      id: tenant.subscription.id,
    });
    expect(subscription).toEqual({ enabled: false, heldDeliveryCount: 1 });
  });

  it('is attempted once: a 500 fails it, with no retry, no operational event and no change to endpoint health', async () => {
    const tenant = await tenantWithSubscription(['invoice.paid', 'hooklane.delivery.failed']);
    tenant.receiver.replyWith({ status: 500, body: 'broken' });
    const delivery = await sent(tenant.token, { subscriptionId: tenant.subscription.id, eventType: 'invoice.paid' });
    const failed = await waitForDelivery(hooklane, tenant.token, delivery.id, 'FAILED');
    expect(failed.attemptCount).toBe(1);
    expect(failed.nextAttemptAt).toBeNull();
    expect(failed.attempts.map((attempt) => attempt.statusCode)).toEqual([500]);
    await receivedOnce(tenant.receiver, tenant.id, delivery.event.id, tenant.secret);
    expect(tenant.receiver.requests).toHaveLength(1);
    const operational = await hooklane.sql`select id from events where tenant_id = ${tenant.id} and event_type like 'hooklane.%'`;
    expect(operational).toEqual([]);
    const [health] = await hooklane.sql`select failing_since, failed_deliveries_in_row from subscriptions where id = ${tenant.subscription.id}`;
    expect(health).toEqual({ failing_since: null, failed_deliveries_in_row: 0 });

    // Nor is it sent again by a recovery of the subscription's failed deliveries, or a replay.
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const { recoverSubscription } = await gqlData(
      hooklane,
      tenant.token,
      'mutation($input: RecoverSubscriptionInput!) { recoverSubscription(input: $input) { deliveryCount } }',
      { input: { id: tenant.subscription.id, since } },
    );
    expect(recoverSubscription.deliveryCount).toBe(0);
    const replay = await hooklane.gql(tenant.token, 'mutation($input: ReplayEventInput!) { replayEvent(input: $input) { event { id } } }', {
      input: { id: delivery.event.id },
    });
    expect(replay.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    await tenantIdle(hooklane, tenant.id);
    expect(tenant.receiver.requests).toHaveLength(1);
  });

  it('takes a token of the publish rate but is not counted in the month', async () => {
    const tenant = await tenantWithSubscription();
    const usage = async () =>
      (await gqlData(hooklane, tenant.token, '{ tenant { usage { eventsThisMonth } quotas { publishBurst } } }')).tenant;
    const before = await usage();
    expect(before.usage.eventsThisMonth).toBe(0);
    const delivery = await sent(tenant.token, { subscriptionId: tenant.subscription.id });
    // The tenant's bucket was full (it never published): it now holds one token less.
    const [bucket] = await hooklane.sql<{ tokens: number }[]>`select publish_tokens as tokens from tenants where id = ${tenant.id}`;
    expect(bucket!.tokens).toBe(before.quotas.publishBurst - 1);
    expect((await usage()).usage.eventsThisMonth).toBe(0);
    await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { amount: 2, currency: 'EUR' } });
    expect((await usage()).usage.eventsThisMonth).toBe(1);
    await waitForDelivery(hooklane, tenant.token, delivery.id, 'SUCCEEDED');

    // An empty bucket refuses a test event as it refuses a publish, and nothing is written.
    await hooklane.sql`update tenants set publish_tokens = 0, publish_tokens_at = now() + interval '1 hour' where id = ${tenant.id}`;
    const events = await eventCount(tenant.id);
    const refused = refusal(await sendTestEvent(tenant.token, { subscriptionId: tenant.subscription.id }));
    expect(refused.code).toBe('QUOTA_EXCEEDED');
    expect(await eventCount(tenant.id)).toBe(events);
  });

  it('is listed among the events with test: true, beside published events with test: false', async () => {
    const tenant = await tenantWithSubscription();
    const published = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { amount: 3, currency: 'EUR' } });
    const delivery = await sent(tenant.token, { subscriptionId: tenant.subscription.id });
    const { events } = await gqlData(hooklane, tenant.token, '{ events(first: 10) { edges { node { id test eventTypeVersion deliveries { id } } } } }');
    expect(events.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
      { id: delivery.event.id, test: true, eventTypeVersion: 1, deliveries: [{ id: delivery.id }] },
      { id: published.id, test: false, eventTypeVersion: 1, deliveries: [{ id: published.deliveries[0]!.id }] },
    ]);
  });

  it('picks an event type its wildcards match when the subscription names none, built-in ones included', async () => {
    const tenant = await tenantWithSubscription(['order.*']);
    const delivery = await sent(tenant.token, { subscriptionId: tenant.subscription.id });
    expect(delivery.event.eventType).toBe('order.created');

    const receiver = await receivers.start();
    const { subscription, secret } = await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['hooklane.*'] });
    const builtIn = await sent(tenant.token, { subscriptionId: subscription.id });
    const firstBuiltIn = [...BUILT_IN_EVENT_TYPE_LIST].sort((a, b) => (a.name < b.name ? -1 : 1))[0]!;
    expect(builtIn.event).toMatchObject({ eventType: firstBuiltIn.name, payload: (firstBuiltIn.schema.examples as unknown[])[0], test: true });
    await waitForDelivery(hooklane, tenant.token, builtIn.id, 'SUCCEEDED');
    expect((await receivedOnce(receiver, tenant.id, builtIn.event.id, secret)).type).toBe(firstBuiltIn.name);
  });

  it('refuses what it cannot send, writing nothing', async () => {
    const tenant = await tenantWithSubscription(['invoice.paid', 'code.issued']);
    const unmatched = await receivers.start();
    const { subscription: matchesNothing } = await createSubscription(hooklane, tenant.token, { url: unmatched.url, eventTypes: ['nothing.*'] });
    const events = await eventCount(tenant.id);
    const cases: [Record<string, unknown>, string, string | undefined, RegExp][] = [
      [{ subscriptionId: tenant.subscription.id, eventType: 'order.created' }, 'BAD_USER_INPUT', 'eventType', /does not receive/],
      [{ subscriptionId: tenant.subscription.id, eventType: 'code.issued' }, 'BAD_USER_INPUT', 'eventType', /examples/],
      [{ subscriptionId: tenant.subscription.id, eventType: 'not a name' }, 'BAD_USER_INPUT', 'eventType', /event type name/],
      [{ subscriptionId: matchesNothing.id }, 'BAD_USER_INPUT', 'eventType', /no event type/],
      [{ subscriptionId: 'sub_00000000000000000000000000000000' }, 'NOT_FOUND', undefined, /not found/],
    ];
    for (const [input, code, field, message] of cases) {
      const refused = refusal(await sendTestEvent(tenant.token, input));
      expect(refused, JSON.stringify(input)).toMatchObject({ code, field });
      expect(refused.message).toMatch(message);
    }
    // An archived event type is not sent, even to a subscription that names it.
    await gqlData(hooklane, tenant.token, 'mutation { archiveEventType(input: { name: "invoice.paid" }) { eventType { id } } }');
    expect(refusal(await sendTestEvent(tenant.token, { subscriptionId: tenant.subscription.id, eventType: 'invoice.paid' })).code).toBe('BAD_USER_INPUT');
    // A token without subscriptions:write may not send one.
    const narrow = await hooklane.tenantToken(tenant.id, { scope: 'events:publish events:read' });
    expect(refusal(await sendTestEvent(narrow, { subscriptionId: tenant.subscription.id })).code).toBe('FORBIDDEN');
    expect(await eventCount(tenant.id)).toBe(events);
    expect(unmatched.requests).toHaveLength(0);
  });

  it('is written to the audit log', async () => {
    const tenant = await tenantWithSubscription();
    const delivery = await sent(tenant.token, { subscriptionId: tenant.subscription.id, eventType: 'order.created' });
    const { auditLog } = await gqlData(hooklane, tenant.token, '{ auditLog(first: 1) { edges { node { action targetId details } } } }');
    expect(auditLog.edges[0].node).toEqual({
      action: 'sendTestEvent',
      targetId: delivery.id,
      details: { subscriptionId: tenant.subscription.id, eventType: 'order.created' },
    });
  });
});
