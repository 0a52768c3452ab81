import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscriptionWith, publishBatch, publishWith } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { FlowReceiver, type FlowRequest, type Responder } from '../support/flow-receiver.js';
import { Hold } from '../support/receiver.js';

// The delivery engine's flow control, end to end: ordered streams (per ordering key), parallel
// unordered delivery, maxInFlight, rateLimit and per-subscription fairness, against real receivers.
describe('delivery engine: ordering and flow control', () => {
  let hooklane: TestHooklane;
  const receivers: FlowReceiver[] = [];

  const newReceiver = async (responder?: Responder) => {
    const receiver = await FlowReceiver.start(responder);
    receivers.push(receiver);
    return receiver;
  };

  const newTenant = async (on: TestHooklane = hooklane, eventType = 'order.created') => {
    const tenant = await on.createTenant();
    await createEventType(on, tenant.token, { name: eventType });
    return tenant;
  };

  /** Delivery statuses of a subscription, straight from the database. */
  const statusCounts = async (subscriptionId: string, on: TestHooklane = hooklane) => {
    const rows = await on.sql<{ status: string; count: number }[]>`
      select status, count(*)::int as count from deliveries where subscription_id = ${subscriptionId} group by status`;
    return Object.fromEntries(rows.map((row) => [row.status, row.count])) as Record<string, number>;
  };

  const allSucceeded = (subscriptionId: string, count: number, timeoutMs = 10_000) =>
    eventually(
      async () => {
        const counts = await statusCounts(subscriptionId);
        return counts.SUCCEEDED === count ? counts : undefined;
      },
      timeoutMs,
      `${count} SUCCEEDED deliveries of ${subscriptionId}`,
    );

  /** Publishes one after the other (so publish order is well defined) and returns the event ids in that order. */
  const publishInOrder = async (token: string, inputs: Record<string, unknown>[]) => {
    const ids: string[] = [];
    for (const input of inputs) ids.push((await publishWith(hooklane, token, input)).id);
    return ids;
  };

  /**
   * Strict order: no request for the k-th event arrives before every earlier event (of the same
   * stream) has been answered 2xx.
   */
  const expectNoOvertaking = (requests: readonly FlowRequest[], publishedIds: readonly string[]) => {
    const position = new Map(publishedIds.map((id, index) => [id, index]));
    const successAt = new Map<string, number>();
    for (const request of requests) {
      if (request.status !== undefined && request.status < 300 && !successAt.has(request.webhookId)) {
        successAt.set(request.webhookId, request.answeredAt!);
      }
    }
    for (const request of requests) {
      const index = position.get(request.webhookId);
      if (index === undefined) continue;
      for (const earlier of publishedIds.slice(0, index)) {
        const doneAt = successAt.get(earlier);
        expect(doneAt, `event #${index} arrived before event #${publishedIds.indexOf(earlier)} succeeded`).toBeDefined();
        expect(doneAt!).toBeLessThanOrEqual(request.receivedAt);
      }
    }
  };

  beforeAll(async () => {
    // 16 slots with half of them per subscription: the per-process fairness cap (8) is well above
    // the limits under test, so maxInFlight and ordering are what bound concurrency here.
    // A generous timeout: no attempt here should time out, even on a busy machine.
    hooklane = await startTestHooklane({ WORKER_CONCURRENCY: '16', WORKER_SUBSCRIPTION_SHARE: '0.5', DELIVERY_TIMEOUT: '5s' });
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  it('ordered: first successful deliveries follow publish order through a failed attempt, one request at a time', async () => {
    const tenant = await newTenant();
    let count = 0;
    const receiver = await newReceiver(() => (++count === 3 ? { status: 500, body: 'hiccup', delayMs: 10 } : { status: 200, delayMs: 10 }));
    const { subscription } = await createSubscriptionWith(hooklane, tenant.token, {
      url: receiver.url,
      eventTypes: ['order.created'],
      ordered: true,
    });
    expect(subscription.ordered).toBe(true);

    const published = await publishInOrder(
      tenant.token,
      Array.from({ length: 20 }, (_, n) => ({ eventType: 'order.created', payload: { n } })),
    );
    await receiver.waitForSuccesses(20);
    await allSucceeded(subscription.id, 20);

    expect(receiver.firstSuccessIds()).toEqual(published);
    // 20 successes and the one 500, nothing else.
    expect(receiver.requests).toHaveLength(21);
    expect(receiver.requests[2]!.status).toBe(500);
    expect(receiver.requests[2]!.webhookId).toBe(published[2]);
    // The retry of event 3 comes before anything of event 4.
    expect(receiver.requests[3]!.webhookId).toBe(published[2]);
    expect(receiver.requests.map((request) => request.body.data.n)).toEqual([0, 1, 2, ...Array.from({ length: 18 }, (_, n) => n + 2)]);
    expectNoOvertaking(receiver.requests, published);
    expect(receiver.maxInFlight).toBe(1);
  });

  it('orderingKey: a stuck key blocks only itself; the other key flows in order, then the stuck one drains in order', async () => {
    const tenant = await newTenant();
    let stuck = true;
    const receiver = await newReceiver((request) =>
      stuck && request.body?.data?.key === 'a' ? { status: 500, body: 'a is stuck' } : { status: 200, delayMs: 5 },
    );
    const { subscription } = await createSubscriptionWith(hooklane, tenant.token, {
      url: receiver.url,
      eventTypes: ['order.created'],
      ordered: true,
      // Enough retries that "a" stays PENDING (not FAILED) for the whole stuck phase.
      retrySchedule: Array.from({ length: 20 }, () => '100ms'),
    });

    const inputs: Record<string, unknown>[] = [];
    for (let n = 0; n < 6; n++) {
      inputs.push({ eventType: 'order.created', payload: { key: 'a', n }, orderingKey: 'a' });
      inputs.push({ eventType: 'order.created', payload: { key: 'b', n }, orderingKey: 'b' });
    }
    const ids = await publishInOrder(tenant.token, inputs);
    const idsA = ids.filter((_, index) => index % 2 === 0);
    const idsB = ids.filter((_, index) => index % 2 === 1);
    const keyOf = (request: FlowRequest) => request.body?.data?.key as string;

    // "b" is not held up by "a": all six arrive, in order, while "a" keeps failing.
    await receiver.waitFor((r) => r.succeeded.filter((request) => keyOf(request) === 'b').length >= 6, 5_000, 'all b events');
    // Every retry of the head of "a" is a chance for what stands behind it to overtake: let it fail a few times.
    await receiver.waitFor((r) => r.requests.filter((request) => keyOf(request) === 'a').length >= 5, 10_000, '5 attempts of a');
    const whileStuck = receiver.requests.slice();
    const successesB = whileStuck.filter((request) => keyOf(request) === 'b' && request.status === 200).map((request) => request.webhookId);
    expect(successesB).toEqual(idsB);
    const attemptsA = whileStuck.filter((request) => keyOf(request) === 'a');
    expect(attemptsA.length).toBeGreaterThanOrEqual(5);
    // Only the head of "a" is ever tried while it fails; nothing behind it overtakes.
    expect(new Set(attemptsA.map((request) => request.webhookId))).toEqual(new Set([idsA[0]]));
    expect(attemptsA.every((request) => request.status === 500)).toBe(true);
    // An attempt is recorded after its answer: wait for b's six successes to be written.
    const counts = await eventually(
      async () => {
        const current = await statusCounts(subscription.id);
        return current.SUCCEEDED === 6 ? current : undefined;
      },
      10_000,
      'the six b deliveries recorded as SUCCEEDED',
    );
    expect(counts).toEqual({ SUCCEEDED: 6, PENDING: 6 });

    // Unstick: "a" drains, in publish order.
    stuck = false;
    await allSucceeded(subscription.id, 12, 5_000);
    const successesA = receiver.succeeded.filter((request) => keyOf(request) === 'a').map((request) => request.webhookId);
    expect(successesA).toEqual(idsA);
    expectNoOvertaking(
      receiver.requests.filter((request) => keyOf(request) === 'a'),
      idsA,
    );
    expectNoOvertaking(
      receiver.requests.filter((request) => keyOf(request) === 'b'),
      idsB,
    );
  });

  it('unordered (default): deliveries to one subscription run in parallel', async () => {
    const tenant = await newTenant();
    // Answers are held until two requests are at the receiver at once: one at a time would never get there.
    const parallel = new Hold();
    const receiver = await newReceiver(() => ({ status: 200, heldUntil: parallel.released }));
    const { subscription } = await createSubscriptionWith(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
    expect(subscription.ordered).toBe(false);
    expect(subscription.maxInFlight).toBeNull();

    const response = await publishBatch(
      hooklane,
      tenant.token,
      Array.from({ length: 10 }, (_, n) => ({ eventType: 'order.created', payload: { n } })),
    );
    expect(response.errors).toBeUndefined();
    await receiver.waitFor((r) => r.inFlight >= 2, 10_000, 'two requests in flight at once');
    parallel.release();
    await allSucceeded(subscription.id, 10);
    expect(receiver.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(new Set(receiver.requests.map((request) => request.webhookId)).size).toBe(10);
    expect(receiver.requests).toHaveLength(10);
  });

  it('maxInFlight: 2 bounds concurrent requests to the subscription', async () => {
    const tenant = await newTenant();
    const receiver = await newReceiver(() => ({ status: 200, delayMs: 150 }));
    const { subscription } = await createSubscriptionWith(hooklane, tenant.token, {
      url: receiver.url,
      eventTypes: ['order.created'],
      maxInFlight: 2,
    });
    expect(subscription.maxInFlight).toBe(2);

    const response = await publishBatch(
      hooklane,
      tenant.token,
      Array.from({ length: 12 }, (_, n) => ({ eventType: 'order.created', payload: { n } })),
    );
    expect(response.errors).toBeUndefined();
    await allSucceeded(subscription.id, 12);
    expect(receiver.maxInFlight).toBeGreaterThanOrEqual(1);
    expect(receiver.maxInFlight).toBeLessThanOrEqual(2);
    // Every event exactly once: a turned-away delivery is deferred, not attempted.
    expect(receiver.requests).toHaveLength(12);
    expect(new Set(receiver.requests.map((request) => request.webhookId)).size).toBe(12);
    const [row] = await hooklane.sql<{ attempts: number }[]>`
      select count(*)::int as attempts from delivery_attempts a join deliveries d on d.id = a.delivery_id
      where d.subscription_id = ${subscription.id}`;
    expect(row!.attempts).toBe(12);
  });

  it('rateLimit: 5 per second spreads 15 deliveries over about two seconds', async () => {
    const tenant = await newTenant();
    const receiver = await newReceiver(() => ({ status: 200 }));
    const { subscription } = await createSubscriptionWith(hooklane, tenant.token, {
      url: receiver.url,
      eventTypes: ['order.created'],
      rateLimit: 5,
    });
    expect(subscription.rateLimit).toBe(5);

    // The bucket is full (5 tokens) until the first delivery takes one, which is after this instant.
    const publishedFrom = Date.now();
    const response = await publishBatch(
      hooklane,
      tenant.token,
      Array.from({ length: 15 }, (_, n) => ({ eventType: 'order.created', payload: { n } })),
    );
    expect(response.errors).toBeUndefined();
    await allSucceeded(subscription.id, 15, 20_000);
    const arrivals = receiver.requests.map((request) => request.receivedAt).sort((a, b) => a - b);
    expect(arrivals).toHaveLength(15);
    // Token bucket: the first 5 may go at once; the n-th after them (n = 1..10) waits for its token,
    // refilled at 5/s, so it arrives no earlier than n × 200 ms after the publish began (the last one
    // 2 s). Lower bounds only, with 20 ms for rounding: a slow machine only makes arrivals later.
    for (let i = 5; i < arrivals.length; i++) {
      expect(arrivals[i]! - publishedFrom, `request ${i + 1}`).toBeGreaterThanOrEqual((i - 4) * 200 - 20);
    }
  });

  describe('with 8 worker slots', () => {
    let small: TestHooklane;
    beforeAll(async () => {
      // A timeout longer than the test: the hanging receiver's requests end only when the test lets them go.
      small = await startTestHooklane({ WORKER_CONCURRENCY: '8', DELIVERY_TIMEOUT: '60s' });
    });
    afterAll(async () => {
      await small?.stop();
    });

    it('a receiver that hangs does not delay another tenant’s deliveries: they succeed while it still holds its requests', async () => {
      const slowTenant = await newTenant(small);
      const fastTenant = await newTenant(small);
      const hanging = new Hold();
      const slow = await newReceiver(() => ({ status: 200, heldUntil: hanging.released }));
      const fast = await newReceiver(() => ({ status: 200 }));
      const { subscription: s1 } = await createSubscriptionWith(small, slowTenant.token, { url: slow.url, eventTypes: ['order.created'] });
      const { subscription: s2 } = await createSubscriptionWith(small, fastTenant.token, { url: fast.url, eventTypes: ['order.created'] });

      const batch = await publishBatch(
        small,
        slowTenant.token,
        Array.from({ length: 30 }, (_, n) => ({ eventType: 'order.created', payload: { n } })),
      );
      expect(batch.errors).toBeUndefined();
      // The slow subscription holds at least its share (8 × 0.25 = 2) of the slots before the fast tenant publishes.
      await slow.waitFor((r) => r.inFlight >= 2, 10_000, 'slow receiver saturated');

      // Each fast event is delivered while the hanging receiver has answered nothing: without the
      // fairness cap it would wait for DELIVERY_TIMEOUT (60 s), far beyond these waits.
      for (let n = 0; n < 10; n++) {
        const event = await publishWith(small, fastTenant.token, { eventType: 'order.created', payload: { n } });
        await fast.waitFor((r) => r.requests.some((request) => request.webhookId === event.id), 20_000, `fast event ${n}`);
      }
      await eventually(
        async () => ((await statusCounts(s2.id, small)).SUCCEEDED === 10 ? true : undefined),
        10_000,
        'the fast tenant’s deliveries SUCCEEDED',
      );
      // The order of things: all ten fast deliveries succeeded while the slow tenant's 30 were all
      // still pending and every request of theirs still held at the receiver.
      expect(await statusCounts(s1.id, small)).toEqual({ PENDING: 30 });
      expect(slow.requests.length).toBeGreaterThanOrEqual(2);
      expect(slow.requests.every((request) => request.status === undefined)).toBe(true);
      // Fairness: the hanging receiver may borrow idle slots, but always leaves its share free for
      // everyone else: it never holds more than 8 - 2 = 6.
      expect(slow.maxInFlight).toBeLessThanOrEqual(6);
      hanging.release();
    });
  });
});
