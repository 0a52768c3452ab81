import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createEventType,
  createSubscription,
  getEvent,
  gqlErrorCode,
  publish,
  retryDelivery,
  updateSubscription,
  waitForDelivery,
  webhookHeadersOf,
} from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, tenantIdle, type TestHooklane } from '../support/hooklane.js';
import { receiverPool, tenantWithEventType } from '../support/fixtures.js';
import { refusingPort } from '../support/ports.js';
import { Hold } from '../support/receiver.js';

// Delivery attempts, retries and fan-out, end to end: GraphQL API → PostgreSQL → worker → real HTTP receivers.
describe('delivery retries', () => {
  let hooklane: TestHooklane;
  const receivers = receiverPool();
  const newReceiver = () => receivers.start();

  const newTenant = (eventType?: string) => tenantWithEventType(hooklane, eventType);

  // The public `graphile_worker.jobs` view (0.17) has no payload column, so the job's delivery id is read
  // from the table behind it.
  const pendingJobsFor = async (deliveryId: string) => {
    const [row] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from graphile_worker._private_jobs where payload->>'deliveryId' = ${deliveryId}`;
    return row!.count;
  };

  beforeAll(async () => {
    hooklane = await startTestHooklane({ DELIVERY_RETRY_SCHEDULE: '50ms,50ms', DELIVERY_TIMEOUT: '300ms' });
  });
  afterEach(async () => {
    await receivers.closeAll();
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  it('retries 500, 500 then succeeds on 200 with the same id, byte-identical body and valid signatures', async () => {
    const tenant = await newTenant();
    const receiver = await newReceiver();
    receiver.replyWith({ status: 500, body: 'down' }, { status: 500, body: 'still down' }, { status: 200, body: 'ok' });
    const { secret } = await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });

    const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { orderId: 17 } });
    expect(event.deliveries).toHaveLength(1);
    const delivery = await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');

    const requests = await receiver.waitForRequests(3);
    expect(receiver.requests).toHaveLength(3);
    const webhook = new StandardWebhook(secret);
    for (const request of requests) {
      expect(request.method).toBe('POST');
      expect(request.headers['webhook-id']).toBe(event.id);
      expect(request.rawBody).toBe(requests[0]!.rawBody);
      expect(webhook.verify(request.rawBody, webhookHeadersOf(request.headers))).toEqual({
        type: 'order.created',
        timestamp: event.createdAt,
        data: { orderId: 17 },
      });
    }

    expect(delivery.attemptCount).toBe(3);
    expect(delivery.nextAttemptAt).toBeNull();
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toEqual([500, 500, 200]);
    expect(delivery.attempts.map((attempt) => attempt.responseBody)).toEqual(['down', 'still down', 'ok']);
    // The contract: `error` says why an attempt failed (non-2xx included), null on success.
    expect(delivery.attempts[0]!.error).toMatch(/500/);
    expect(delivery.attempts[1]!.error).toMatch(/500/);
    expect(delivery.attempts[2]!.error).toBeNull();
  });

  it('gives up after the schedule is spent: exactly 3 attempts, FAILED, no further requests', async () => {
    const tenant = await newTenant();
    const receiver = await newReceiver();
    receiver.replyWith({ status: 500, body: 'nope' });
    await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });

    const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
    const delivery = await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'FAILED');
    expect(delivery.attemptCount).toBe(3);
    expect(delivery.nextAttemptAt).toBeNull();
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toEqual([500, 500, 500]);
    expect(receiver.requests).toHaveLength(3);

    // Nothing is left queued for the tenant, so nothing more can arrive.
    await tenantIdle(hooklane, tenant.id);
    expect(receiver.requests).toHaveLength(3);
    const after = await waitForDelivery(hooklane, tenant.token, delivery.id, 'FAILED');
    expect(after.attemptCount).toBe(3);
  });

  it('records a timed-out attempt with no status code, then retries', async () => {
    const tenant = await newTenant();
    const receiver = await newReceiver();
    // The first answer is held until the test has seen the outcome: only the timeout can end that attempt.
    const tooLate = new Hold();
    receiver.replyWith({ status: 200, body: 'too late', heldUntil: tooLate.released }, { status: 200, body: 'ok' });
    await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });

    const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { slow: true } });
    const delivery = await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
    tooLate.release();
    expect(delivery.attemptCount).toBe(2);
    const [timedOut, succeeded] = delivery.attempts;
    expect(timedOut!.statusCode).toBeNull();
    expect(timedOut!.error).toMatch(/time/i);
    // It lasted the whole DELIVERY_TIMEOUT (300ms), however long that took the machine.
    expect(timedOut!.durationMs).toBeGreaterThanOrEqual(250);
    expect(succeeded).toMatchObject({ statusCode: 200, error: null, responseBody: 'ok' });
    expect(receiver.requests).toHaveLength(2);
  });

  it('does not follow a 302 redirect and counts it as a failure', async () => {
    const tenant = await newTenant();
    const target = await newReceiver();
    const redirector = await newReceiver();
    redirector.replyWith({ status: 302, headers: { location: target.url } });
    await createSubscription(hooklane, tenant.token, { url: redirector.url, eventTypes: ['order.created'] });

    const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: {} });
    const delivery = await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'FAILED');
    expect(delivery.attemptCount).toBe(3);
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toEqual([302, 302, 302]);
    for (const attempt of delivery.attempts) expect(attempt.error).toMatch(/302/);
    expect(redirector.requests).toHaveLength(3);
    expect(target.requests).toHaveLength(0);
  });

  it('records a refused connection as a network error attempt', async () => {
    const tenant = await newTenant();
    const closed = await refusingPort();
    try {
      await createSubscription(hooklane, tenant.token, { url: `http://127.0.0.1:${closed.port}/hook`, eventTypes: ['order.created'] });
      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { x: 1 } });
      const delivery = await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'FAILED');
      expect(delivery.attemptCount).toBe(3);
      for (const attempt of delivery.attempts) {
        expect(attempt.statusCode).toBeNull();
        expect(attempt.responseBody).toBeNull();
        expect(attempt.error).toMatch(/ECONNREFUSED/);
      }
    } finally {
      await closed.release();
    }
  });

  it('retryDelivery returns a FAILED delivery to PENDING and sends it again', async () => {
    const tenant = await newTenant();
    const receiver = await newReceiver();
    receiver.replyWith({ status: 503 });
    await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
    const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { retry: 'me' } });
    const failed = await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'FAILED');
    expect(failed.attemptCount).toBe(3);
    await eventually(async () => ((await pendingJobsFor(failed.id)) === 0 ? true : undefined), 5_000, 'no pending job');

    receiver.replyWith({ status: 200, body: 'fixed' });
    const retried = await retryDelivery(hooklane, tenant.token, failed.id);
    expect(retried.id).toBe(failed.id);
    expect(retried.status).toBe('PENDING');
    expect(retried.nextAttemptAt).not.toBeNull();

    const succeeded = await waitForDelivery(hooklane, tenant.token, failed.id, 'SUCCEEDED');
    expect(succeeded.attemptCount).toBe(4);
    expect(succeeded.attempts).toHaveLength(4);
    expect(succeeded.attempts.map((attempt) => attempt.statusCode)).toEqual([503, 503, 503, 200]);
    expect(succeeded.nextAttemptAt).toBeNull();
    const requests = await receiver.waitForRequests(4);
    expect(new Set(requests.map((request) => request.headers['webhook-id']))).toEqual(new Set([event.id]));
    expect(new Set(requests.map((request) => request.rawBody)).size).toBe(1);
  });

  it('retryDelivery of an unknown id is NOT_FOUND', async () => {
    const tenant = await newTenant();
    const code = await gqlErrorCode(
      hooklane,
      tenant.token,
      'mutation($input: RetryDeliveryInput!) { retryDelivery(input: $input) { delivery { id } } }',
      { input: { id: 'dlv_00000000000000000000000000000000' } },
    );
    expect(code).toBe('NOT_FOUND');
  });

  it('fans out to the enabled subscriptions of the event type with one webhook-id, and holds the disabled one', async () => {
    const tenant = await newTenant('order.created');
    await createEventType(hooklane, tenant.token, { name: 'order.cancelled' });
    const [first, second, disabled, otherType] = await Promise.all([newReceiver(), newReceiver(), newReceiver(), newReceiver()]);
    const a = await createSubscription(hooklane, tenant.token, { url: first!.url, eventTypes: ['order.created'] });
    const b = await createSubscription(hooklane, tenant.token, { url: second!.url, eventTypes: ['order.cancelled', 'order.created'] });
    const off = await createSubscription(hooklane, tenant.token, { url: disabled!.url, eventTypes: ['order.created'] });
    const other = await createSubscription(hooklane, tenant.token, { url: otherType!.url, eventTypes: ['order.cancelled'] });
    const updated = await updateSubscription(hooklane, tenant.token, { id: off.subscription.id, enabled: false });
    expect(updated.enabled).toBe(false);

    const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { fan: 'out' } });
    const bySubscription = new Map(event.deliveries.map((delivery) => [delivery.subscription.id, delivery]));
    expect([...bySubscription.keys()].sort()).toEqual([a.subscription.id, b.subscription.id, off.subscription.id].sort());
    expect(bySubscription.get(off.subscription.id)!.status).toBe('HELD');
    expect(bySubscription.has(other.subscription.id)).toBe(false);

    for (const subscription of [a, b]) {
      await waitForDelivery(hooklane, tenant.token, bySubscription.get(subscription.subscription.id)!.id, 'SUCCEEDED');
    }
    const [toFirst] = await first!.waitForRequests(1);
    const [toSecond] = await second!.waitForRequests(1);
    expect(toFirst!.headers['webhook-id']).toBe(event.id);
    expect(toSecond!.headers['webhook-id']).toBe(event.id);
    expect(toFirst!.rawBody).toBe(toSecond!.rawBody);
    // Each subscription signs with its own secret.
    expect(new StandardWebhook(a.secret).verify(toFirst!.rawBody, webhookHeadersOf(toFirst!.headers))).toBeTruthy();
    expect(new StandardWebhook(b.secret).verify(toSecond!.rawBody, webhookHeadersOf(toSecond!.headers))).toBeTruthy();
    expect(() => new StandardWebhook(a.secret).verify(toSecond!.rawBody, webhookHeadersOf(toSecond!.headers))).toThrow();

    const [row] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from deliveries where subscription_id = ${other.subscription.id}`;
    expect(row!.count).toBe(0);
    // Nothing is queued any more: the held delivery stays unsent.
    await tenantIdle(hooklane, tenant.id);
    const [held] = await hooklane.sql<{ status: string }[]>`select status from deliveries where id = ${bySubscription.get(off.subscription.id)!.id}`;
    expect(held!.status).toBe('HELD');
    expect(disabled!.requests).toHaveLength(0);
    expect(otherType!.requests).toHaveLength(0);
    expect(first!.requests).toHaveLength(1);
    expect(second!.requests).toHaveLength(1);
  });
});
