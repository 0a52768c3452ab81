import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

// The README walkthrough, step by step, as a client would run it.
describe('README walkthrough', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    receiver = await TestReceiver.start();
  });
  afterAll(async () => {
    await receiver?.close();
    await hooklane?.stop();
  });

  it('creates a tenant, an event type and a subscription, publishes, and delivers a signed webhook', async () => {
    const tenant = await hooklane.createTenant('Acme');

    const eventType = await hooklane.gql(
      tenant.token,
      `mutation { createEventType(input: { name: "invoice.paid", description: "An invoice was paid",
        schema: { type: "object", required: ["amount"], properties: { amount: { type: "integer" } } } }) {
        eventType { id name description schema } } }`,
    );
    expect(eventType.errors).toBeUndefined();
    expect(eventType.data!.createEventType.eventType).toMatchObject({ name: 'invoice.paid', description: 'An invoice was paid' });

    const created = await hooklane.gql(
      tenant.token,
      `mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) {
        subscription { id url eventTypes enabled } secret } }`,
      { input: { url: receiver.url, eventTypes: ['invoice.paid'], description: 'billing' } },
    );
    expect(created.errors).toBeUndefined();
    const { subscription, secret } = created.data!.createSubscription;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(subscription).toMatchObject({ url: receiver.url, eventTypes: ['invoice.paid'], enabled: true });

    const published = await hooklane.gql(
      tenant.token,
      `mutation { publishEvent(input: { eventType: "invoice.paid", payload: { amount: 4200, currency: "EUR" } }) {
        event { id eventType payload createdAt deliveries { id status } } } }`,
    );
    expect(published.errors).toBeUndefined();
    const event = published.data!.publishEvent.event;
    expect(event.payload).toEqual({ amount: 4200, currency: 'EUR' });
    expect(event.deliveries).toHaveLength(1);

    const [request] = await receiver.waitForRequests(1);
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toMatch(/Hooklane/);
    expect(request!.headers['webhook-id']).toBe(event.id);
    expect(JSON.parse(request!.rawBody)).toEqual({
      type: 'invoice.paid',
      timestamp: event.createdAt,
      data: { amount: 4200, currency: 'EUR' },
    });
    const headers = {
      'webhook-id': String(request!.headers['webhook-id']),
      'webhook-timestamp': String(request!.headers['webhook-timestamp']),
      'webhook-signature': String(request!.headers['webhook-signature']),
    };
    expect(new StandardWebhook(secret).verify(request!.rawBody, headers)).toMatchObject({ type: 'invoice.paid' });
    expect(new SvixWebhook(secret).verify(request!.rawBody, headers)).toMatchObject({ type: 'invoice.paid' });

    const delivery = await eventually(async () => {
      const result = await hooklane.gql(
        tenant.token,
        `query($id: ID!) { event(id: $id) { deliveries { id status attemptCount nextAttemptAt
          subscription { id } attempts { statusCode error durationMs responseBody createdAt } } } }`,
        { id: event.id },
      );
      const found = result.data!.event.deliveries[0];
      return found.status === 'SUCCEEDED' ? found : undefined;
    });
    expect(delivery.subscription.id).toBe(subscription.id);
    expect(delivery.nextAttemptAt).toBeNull();
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0]).toMatchObject({ statusCode: 200, error: null, responseBody: 'ok' });
    expect(delivery.attempts[0].durationMs).toBeGreaterThanOrEqual(0);

    const listed = await hooklane.gql(tenant.token, '{ events(first: 10) { edges { node { id } } } }');
    expect(listed.data!.events.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([event.id]);
  });
});
